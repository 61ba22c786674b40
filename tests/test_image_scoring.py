"""Image scores and their plumbing: the scorer against direct computations, protocol records,
tracking across a resume, `thermogan eval` / `sample` / `report` for image runs, image grids."""

import json

import numpy as np
import pytest
import torch
import yaml
from helpers import fake_mnist

from thermogan.cli import main
from thermogan.experiment import build, config, runs, scoring
from thermogan.experiment.mnist_scorer import MnistScorer
from thermogan.experiment.tracking import read_track
from thermogan.metrics.classifier import MnistClassifier, save_classifier, weights_hash
from thermogan.metrics.features import features_and_digits
from thermogan.report.images import tile


def images(n, channels=1, seed=0):
    return torch.rand(n, channels, 28, 28, generator=torch.Generator().manual_seed(seed)) * 2 - 1


@pytest.fixture(scope="module")
def model():
    torch.manual_seed(0)
    return MnistClassifier().eval()


def test_fd_matches_a_direct_numpy_computation(model):
    real, fake = images(300, seed=1), images(200, seed=2) * 0.5
    scorer = MnistScorer(model, weights_hash(model), real)
    with torch.no_grad():
        a, b = model.features(real).double().numpy(), model.features(fake).double().numpy()
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)  # unbiased, as FeatureStats
    # tr sqrt(S1 S2) from the eigenvalues of S1 S2 (real, non-negative for PSD matrices)
    trace_root = np.sqrt(np.clip(np.linalg.eigvals(s1 @ s2).real, 0, None)).sum()
    expected = ((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2) - 2 * trace_root
    scores = scorer.score(fake)
    assert scores["fd_mnist"]["value"] == pytest.approx(expected, rel=1e-6)
    assert scorer.score(real)["fd_mnist"]["value"] == pytest.approx(0, abs=1e-6)


def test_protocol_records_the_network_counts_and_seed(model):
    scorer = MnistScorer(model, "abc123", images(120), split="test")
    scores = scorer.score(iter([images(50, seed=3), images(30, seed=4)]), seed=7,
                          kid_subsets=5, kid_subset_size=40)
    fd, k = scores["fd_mnist"]["protocol"], scores["kid_mnist"]["protocol"]
    assert fd["sha256"] == k["sha256"] == "abc123"
    assert (fd["real"], fd["fake"], fd["seed"], fd["real_split"]) == (120, 80, 7, "test")
    assert (k["subsets"], k["subset_size"]) == (5, 40)
    assert "stacked_modes" not in scores


def test_colour_images_are_read_channel_by_channel(model):
    x = images(64, channels=3, seed=5)
    feats, digits = features_and_digits(model, x, batch=10)
    with torch.no_grad():
        for c in range(3):
            assert np.allclose(feats[:, 128 * c:128 * (c + 1)], model.features(x[:, c:c + 1]),
                               atol=1e-5)
            assert np.array_equal(digits[:, c], model(x[:, c:c + 1]).argmax(1).numpy())
    scores = MnistScorer(model, "h", images(64, channels=3, seed=6)).score(x, kid_subsets=2,
                                                                          kid_subset_size=20)
    modes = {tuple(d) for d in digits.tolist()}
    assert scores["stacked_modes"]["value"] == len(modes)
    assert scores["stacked_kl"]["value"] >= 0


def test_tile_places_each_image_and_maps_to_unit_range():
    x = np.stack([np.full((1, 3, 3), v) for v in (-1.0, 0.0, 1.0)])  # (3, 1, 3, 3)
    picture = tile(x, cols=2)
    assert picture.shape == (2 * 4 + 1, 2 * 4 + 1, 1)
    assert np.all(picture[1:4, 1:4] == 0) and np.all(picture[1:4, 5:8] == 0.5)
    assert np.all(picture[5:8, 1:4] == 1) and np.all(picture[5:8, 5:8] == 0.85)  # empty slot


def mnist_config(tmp_path, **changes):
    raw = {"name": "tiny_mnist", "device": "cpu", "data": {"kind": "mnist"},
           "tempering": {"kind": "heat", "levels": 3},
           "model": {"generator": {"kind": "fc", "hidden": [32]},
                     "discriminator": {"kind": "fc", "hidden": [32]}, "z_dim": 16},
           "train": {"steps": 40, "batch_size": 16, "checkpoint_every": 20, "progress": False,
                     "tensorboard": False},
           "eval": {"samples": 100, "track_every": 10, "track_samples": 40}}
    raw.update(changes)
    path = tmp_path / "mnist.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_tracking_survives_a_resume(tmp_path, mnist_home):
    cfg = config.load(mnist_config(tmp_path), ["train.steps=20"])
    runs.start(cfg, tmp_path / "run")
    _, summary = runs.resume(tmp_path / "run", overrides=["train.steps=40"])
    assert [r["step"] for r in read_track(tmp_path / "run")] == [10, 20, 30, 40]
    assert summary["protocol"]["classifier_sha256"] == json.loads(
        (tmp_path / "run" / "summary.json").read_text())["scores"]["kid_mnist"]["protocol"][
        "sha256"]


def test_cli_eval_sample_and_report_on_image_runs(tmp_path, mnist_home, capsys):
    path = mnist_config(tmp_path)
    assert main(["train", str(path), "--out", str(tmp_path / "a")]) == 0
    assert main(["train", str(path), "--out", str(tmp_path / "b"), "seed=1"]) == 0
    assert main(["eval", str(tmp_path / "a"), "--samples", "60", "--seed", "3"]) == 0
    record = json.loads((tmp_path / "a" / "eval.json").read_text())
    assert record["scores"]["fd_mnist"]["protocol"]["fake"] == 60
    assert record["protocol"]["seed"] == 3
    assert main(["sample", str(tmp_path / "a"), "--n", "16", "--out",
                 str(tmp_path / "grid.png")]) == 0
    assert (tmp_path / "grid.png").stat().st_size > 0
    assert main(["report", str(tmp_path / "a"), str(tmp_path / "b"), "--out",
                 str(tmp_path / "both.png")]) == 0
    out = capsys.readouterr().out
    assert "fd_mnist" in out and (tmp_path / "both.png").is_file()


def test_missing_classifier_fails_before_training(tmp_path, mnist_home, capsys):
    (mnist_home / "classifier" / "mnist_cnn.pt").unlink()
    assert main(["train", str(mnist_config(tmp_path)), "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err.strip()
    assert "mnist_cnn.pt does not exist" in err and "thermogan data classifier" in err
    assert len(err.splitlines()) == 1
    assert not (tmp_path / "run" / "checkpoints").exists()


def test_images_without_a_trusted_metric_say_so(tmp_path, capsys):
    rng = np.random.default_rng(0)
    np.savez(tmp_path / "faces.npz", images=rng.integers(0, 256, (40, 3, 8, 8), dtype=np.uint8))
    path = mnist_config(tmp_path, data={"kind": "npz", "path": str(tmp_path / "faces.npz")},
                        eval={"samples": 20})
    assert main(["train", str(path), "--out", str(tmp_path / "run")]) == 0
    assert "no trusted metric" in capsys.readouterr().out
    assert main(["eval", str(tmp_path / "run")]) == 1
    assert "no trusted metric" in capsys.readouterr().err
    tracked = mnist_config(tmp_path, data={"kind": "npz", "path": str(tmp_path / "faces.npz")})
    assert main(["train", str(tracked), "--out", str(tmp_path / "run2")]) == 2
    assert "eval.track_every=10: fd_mnist tracking needs MNIST" in capsys.readouterr().err


def test_stacked_mnist_runs_report_modes(tmp_path, mnist_home):
    path = mnist_config(tmp_path, data={"kind": "stacked_mnist", "n": 200},
                        model={"generator": {"kind": "dcgan", "width": 8},
                               "discriminator": {"kind": "dcgan", "width": 8}, "z_dim": 16},
                        eval={"samples": 100})
    _, summary = runs.start(config.load(path, ["train.steps=8", "tempering=null"]),
                            tmp_path / "run")
    m, scores = summary["metrics"], summary["scores"]
    assert 1 <= m["stacked_modes"] <= 100 and m["stacked_kl"] >= 0
    assert scores["fd_mnist"]["protocol"]["channels"] == 3
    assert scores["fd_mnist"]["protocol"]["real"] == 300  # the reference triples (mnist_home)


def test_reference_features_are_computed_once_per_classifier_and_reference(tmp_path, mnist_home):
    cfg = config.load(mnist_config(tmp_path))
    first, second = scoring.prepare(cfg), scoring.prepare(cfg)
    assert second.real_features is first.real_features  # the cached array, shared read-only
    assert not first.real_features.flags.writeable
    reference = scoring.scorer(cfg.data.kind).reference_config(cfg)
    real = build.build_data(reference).images
    direct, _ = features_and_digits(first.model, real)
    assert np.array_equal(first.real_features, direct)
    assert second.fd(direct) == pytest.approx(0.0, abs=1e-6)
    # another classifier file, or other reference images, get features of their own
    torch.manual_seed(1)
    save_classifier(MnistClassifier(), mnist_home / "classifier" / "mnist_cnn.pt")
    other = scoring.prepare(cfg)
    assert not np.array_equal(other.real_features, direct)
    assert np.array_equal(other.real_features, features_and_digits(other.model, real)[0])
    fake_mnist(mnist_home / "mnist", n=48, prefix="t10k", compress=False, seed=3)
    moved = scoring.prepare(cfg)
    assert moved.real_features is not other.real_features
    assert np.array_equal(moved.real_features, features_and_digits(
        moved.model, build.build_data(reference).images)[0])
