"""Every shipped config loads, builds and trains for a few steps."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from helpers import assert_figure, capture_figures

from thermogan.experiment import config, runs
from thermogan.experiment.tracking import read_track

CONFIGS = sorted(Path(__file__).resolve().parents[1].joinpath("configs").glob("*.yaml"))
#: CIFAR-10 configs train on fake CIFAR batches in test_va_images.py (no CIFAR files here)
ON_MNIST_OR_TOY = [p for p in CONFIGS if config.load(p).data.kind != "cifar10"]


def test_every_experiment_has_its_vanilla_twin():
    names = {p.stem for p in CONFIGS}
    for name in names:
        if name.endswith("_betagan"):
            assert name.replace("_betagan", "_vanilla") in names


@pytest.mark.figures
@pytest.mark.parametrize("path", ON_MNIST_OR_TOY, ids=[p.stem for p in ON_MNIST_OR_TOY])
def test_config_trains(path, tmp_path, mnist_home, monkeypatch):
    """Toy configs as they are; image configs on small MNIST files (the mnist_home fixture)."""
    plain = config.load(path)
    image = plain.data.kind in ("mnist", "stacked_mnist")
    lensed = image and any(t.kind == "lens" for t in plain.temperings())
    steps = 4 if lensed else 40  # a full-resolution lens costs several times a DCGAN step
    # Stacked MNIST draws its 60,000 digit triples when built (0.7 GB of floats, most of such a
    # test's time): 1,000 drawn from the same small files take the same code, and outnumber what
    # a few steps of batch 16 and the scorer read
    triples = ["data.n=1000"] if plain.data.kind == "stacked_mnist" else []
    cfg = config.load(path, [f"train.steps={steps}", "train.batch_size=16", "train.progress=false",
                             "train.tensorboard=false", "eval.samples=200", "device=cpu",
                             *triples])
    if image:
        cfg.eval.track_every, cfg.eval.track_samples = steps // 2, 50
    if cfg.eval.snapshot_every is not None:
        cfg.eval.snapshot_every = steps // 2
    assert cfg.name == path.stem
    saved = capture_figures(monkeypatch)
    trainer, summary = runs.start(cfg, tmp_path / "run")
    assert summary["protocol"]["step"] == steps
    figures = tmp_path / "run" / "figures"
    levels = [np.load(p)["real"] for p in sorted((figures / "levels").glob("step_*.npz"))]
    # images: data and samples side by side; points: one view, or three pairs of coordinates in 3-D
    views = 2 if image else 3 if trainer.data.shape == (3,) else 1
    assert_figure(figures / "samples.png", min_size=(500, 500), panels=views,
                  min_ink=0.1 if image else 0.01, saved=saved)
    if any(t.kind == "heat" for t in cfg.temperings()):
        assert_figure(figures / "levels.png", panels=min(len(levels), 12), saved=saved)
    if image:
        assert math.isfinite(summary["metrics"]["fd_mnist"])
        assert summary["scores"]["fd_mnist"]["protocol"]["fake"] == 200
        assert [r["step"] for r in read_track(tmp_path / "run")] == [steps // 2, steps]
        assert_figure(figures / "fd_mnist.png", min_size=(800, 450), panels=1, saved=saved)
    if cfg.eval.snapshot_every is not None:
        assert sorted(p.name for p in (figures / "snapshots").iterdir()) == [
            f"step_{steps // 2:09d}.npz", f"step_{steps:09d}.npz"]
        # images: generated samples over what D saw, at both snapshot steps; points: a panel each
        assert_figure(figures / "snapshots.png", min_size=(400, 350), panels=2 * 2 if image else 2,
                      min_ink=0.1 if image else 0.01, saved=saved)
    if not image and trainer.data.shape == (2,) and cfg.eval.snapshot_every is not None:
        # D's contour lines at both snapshots, and an SGLD D's noise level over time
        noisy = cfg.optim.d.kind == "sgld"
        assert_figure(figures / "contours.png", min_size=(600, 300), panels=2 + noisy,
                      saved=saved)


@pytest.mark.parametrize("data", ["ring8", "grid25", "mog3d", "mog3d5", "cubes", "mog1d", "mnist",
                                  "mnist_{}_cpu"])
def test_twins_share_networks_budget_and_seed(data):
    root = CONFIGS[0].parent
    pattern = data if "{}" in data else data + "_{}"
    van = config.load(root / f"{pattern.format('vanilla')}.yaml").to_dict()
    beta = config.load(root / f"{pattern.format('betagan')}.yaml").to_dict()
    for key in ("model", "optim", "train", "seed", "eval", "objective"):
        if key == "model":
            van[key].pop("z_dist"), beta[key].pop("z_dist")
        assert van[key] == beta[key], key
    assert van["data"] == beta["data"]


TAN = [p for p in CONFIGS if p.stem.startswith("tan_") and not p.stem.endswith("_cpu")]


@pytest.mark.parametrize("path", TAN, ids=[p.stem for p in TAN])
def test_lens_configs_differ_from_their_cpu_twin_in_scale_only(path):
    paper = config.load(path).to_dict()
    cpu = config.load(path.with_name(f"{path.stem}_cpu.yaml")).to_dict()
    assert paper["data"] == cpu["data"] and paper["objective"] == cpu["objective"]
    assert paper["optim"] == cpu["optim"] and paper["train"]["d_steps"] == cpu["train"]["d_steps"]
    assert paper["tempering"]["kind"] == cpu["tempering"]["kind"] == "lens"
    assert paper["model"]["generator"]["kind"] == cpu["model"]["generator"]["kind"] == "dcgan"
    assert paper["optim"]["g"]["lr"] == paper["optim"]["d"]["lr"] == 1e-4  # the paper's Adam rate
    assert paper["train"]["batch_size"] == 64


@pytest.mark.parametrize("name", ["tan_mnist_gan_cpu", "tan_stacked_wgangp"])
def test_a_lens_config_and_its_twin_without_the_lens_start_from_the_same_weights(name,
                                                                                 mnist_home):
    from thermogan.experiment.build import build_trainer

    root = CONFIGS[0].parent
    small = ["device=cpu", *(["data.n=1000"] if "stacked" in name else [])]  # as test_config_trains
    lensed = build_trainer(config.load(root / f"{name}.yaml", small))
    plain = build_trainer(config.load(root / f"{name}.yaml", [*small, "tempering=null"]))
    assert [t.__class__.__name__ for t in lensed.temperings] == ["Lens"]
    for a, b in ((plain.G, lensed.G), (plain.D, lensed.D)):
        for (key, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
            assert torch.equal(x, y), key


@pytest.mark.parametrize("data", ["ring8", "grid25"])
def test_a_langevin_config_is_its_vanilla_twin_with_an_sgld_d(data):
    root = CONFIGS[0].parent
    van = config.load(root / f"{data}_vanilla.yaml").to_dict()
    lan = config.load(root / f"{data}_langevin.yaml").to_dict()
    assert lan["optim"]["d"]["kind"] == "sgld" and lan["optim"]["d"]["noise"] == "covariance"
    assert lan["eval"].pop("snapshot_every") is not None  # for the contour figure
    van["optim"].pop("d"), lan["optim"].pop("d"), van["eval"].pop("snapshot_every")
    for key in ("data", "model", "optim", "train", "seed", "eval", "objective"):
        assert van[key] == lan[key], key
