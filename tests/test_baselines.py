"""The field's baselines as parts: PacGAN packing (Lin et al. 2018), maxout (Goodfellow et al.
2013) and PacGAN's toy networks, spectral normalisation (Miyato et al. 2018), each against its
formula (the penalties, R1/R2 among them: test_penalties.py); and the anchors' protocol
configs."""

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from thermogan.data.batch import Batch
from thermogan.errors import ConfigError
from thermogan.experiment import config, runs
from thermogan.experiment.build import build_trainer, call_component, component_options
from thermogan.experiment.config import Component
from thermogan.nets import DISCRIMINATORS, GENERATORS
from thermogan.nets.maxout import Maxout
from thermogan.nets.packed import PackedDiscriminator
from thermogan.train.checkpoint import load_checkpoint, save_checkpoint

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


class Recorder(nn.Module):
    """An inner 'network' that keeps what it was given and returns one logit per row."""

    def forward(self, x):
        self.seen = x
        return x.flatten(1).sum(1, keepdim=True)


# PacGAN packing ----------------------------------------------------------------------------

@pytest.mark.parametrize("m", [2, 3, 4])
def test_packs_are_the_authors_packs(m):
    # the authors' code draws the m members of a pack as m batches of n and concatenates them
    # along the feature axis (np.hstack of m resampled sets; tensor.concatenate(x_tildes, 1))
    n, d = 5, 2
    batches = [np.random.default_rng(i).normal(size=(n, d)) for i in range(m)]
    theirs = np.hstack(batches)  # (n, m·d)
    ours = torch.from_numpy(np.concatenate(batches, 0))  # our batch: the m batches in turn
    inner = Recorder()
    out = PackedDiscriminator(inner, m)(ours)
    assert out.shape == (n, 1)
    assert np.array_equal(inner.seen.numpy(), theirs)


def test_images_are_packed_along_the_channels():
    x = torch.randn(6, 3, 4, 4)  # m = 2 chunks of n = 3
    inner = Recorder()
    PackedDiscriminator(inner, 2)(x)
    assert inner.seen.shape == (3, 6, 4, 4)
    assert torch.equal(inner.seen[1, :3], x[1]) and torch.equal(inner.seen[1, 3:], x[4])


PACKABLE = {"mlp": ((2,), {"hidden": [8]}), "paper3d": ((2,), {}),
            "maxout": ((2,), {"hidden": [8], "pieces": 2}), "fc": ((1, 8, 8), {"hidden": [8]}),
            "dcgan": ((1, 32, 32), {"width": 4})}


@pytest.mark.parametrize("kind", sorted(PACKABLE))
@pytest.mark.parametrize("m", [2, 3, 4])
def test_every_discriminator_packs(kind, m):
    shape, options = PACKABLE[kind]
    d = call_component(DISCRIMINATORS, Component(kind=kind, packs=m, **options),
                       "model.discriminator", shape)
    assert isinstance(d, PackedDiscriminator)
    assert d(torch.randn(4 * m, *shape)).shape == (4, 1)
    assert sorted(PACKABLE) == sorted(DISCRIMINATORS)  # a new discriminator joins this test


def test_packing_refuses_what_it_cannot_do():
    d = DISCRIMINATORS["mlp"]((2,), packs=3)
    with pytest.raises(ConfigError, match=r"^model\.discriminator\.packs=3: a batch of 10 "
                       r"samples does not divide into packs of 3; set train\.batch_size"):
        d(torch.randn(10, 2))
    with pytest.raises(ConfigError, match=r"^model\.discriminator\.packs=0: must be >= 1"):
        call_component(DISCRIMINATORS, Component(kind="mlp", packs=0), "model.discriminator",
                       (2,))
    with pytest.raises(ConfigError, match="packs=2: a packed D has no single label"):
        call_component(DISCRIMINATORS, Component(kind="maxout", packs=2), "model.discriminator",
                       (2,), num_classes=3)


def test_one_pack_is_the_plain_network():
    torch.manual_seed(0)
    plain = DISCRIMINATORS["mlp"]((2,), hidden=[8])
    torch.manual_seed(0)
    one = DISCRIMINATORS["mlp"]((2,), hidden=[8], packs=1)
    assert type(one) is nn.Sequential and list(one.state_dict()) == list(plain.state_dict())


def tiny_packed(**overrides):
    return config.load(CONFIGS / "pacgan_ring8.yaml", [
        "train.steps=30", "train.batch_size=24", "train.progress=false",
        "train.tensorboard=false", "eval.samples=200", "device=cpu",
        "model.generator.hidden=[16,16]", "model.discriminator.hidden=[16,16]",
        *(f"{k}={v}" for k, v in overrides.items())])


@pytest.mark.parametrize("m", [2, 3])
def test_a_packed_discriminator_trains_end_to_end(tmp_path, m):
    cfg = tiny_packed(**{"model.discriminator.packs": m})
    start = build_trainer(cfg).D.inner[0][0].linear.weight  # D as the run builds it
    trainer, summary = runs.start(cfg, tmp_path / "run")
    assert isinstance(trainer.D, PackedDiscriminator) and trainer.D.packs == m
    first = trainer.D.inner[0][0].linear
    assert first.in_features == 2 * m  # D sees m samples of 2 coordinates at once
    assert not torch.equal(first.weight, start)  # and was trained on packs
    assert summary["protocol"]["step"] == 30 and 0 <= summary["metrics"]["modes"] <= 8


def test_a_packed_critic_trains_with_its_gradient_penalty(tmp_path):
    trainer, summary = runs.start(tiny_packed(**{"objective.loss": "wgan-gp"}), tmp_path / "run")
    assert trainer.penalty.weight == 10 and summary["protocol"]["step"] == 30


def test_an_adaptive_level_counts_the_images_a_packed_d_judges():
    """A packed D returns one logit per pack of m images: the controller's Δ counts images
    (batch·interval/images), so it moves as fast with packs as without."""
    from thermogan.step import DStep
    from thermogan.tempering.control import Adaptive

    moved = {}
    for m in (1, 2, 4):
        cfg = tiny_packed(**{"model.discriminator.packs": m, "train.batch_size": 64,
                             "tempering": "{kind: instance_noise, std: {kind: adaptive, "
                                          "images: 1024, interval: 1, start: 0.5}}"})
        trainer = build_trainer(cfg)
        (controller,) = [c for c in trainer.controllers if isinstance(c, Adaptive)]
        assert controller.packs == m
        controller.observe(DStep(Batch(torch.zeros(64, 2)), real_logits=torch.ones(64 // m)))
        moved[m] = float(controller.heat) - 0.5
    assert moved == {1: 64 / 1024, 2: 64 / 1024, 4: 64 / 1024}  # 64 images each time


def test_an_sgld_d_with_covariance_noise_refuses_packs_in_one_line():
    for noise in ("covariance", "ccadl"):
        cfg = tiny_packed(**{"optim.d": f"{{kind: sgld, lr: 0.01, noise: {noise}, "
                                        "batch_size: 24}"})
        with pytest.raises(ConfigError, match=r"^optim\.d: an SGLD D with covariance or ccadl "
                                              r"noise .* packs of 2 .*packs=1 or "
                                              r"optim\.d\.noise=isotropic$"):
            build_trainer(cfg)
    iso = build_trainer(tiny_packed(**{"optim.d": "{kind: sgld, lr: 0.01}"}))
    assert iso.d_variance is None  # isotropic noise needs no per-example gradients: it trains
    iso.train_step()


# Maxout and PacGAN's toy networks -----------------------------------------------------------

def test_maxout_is_the_max_of_consecutive_pieces():
    torch.manual_seed(0)
    layer = Maxout(3, 4, pieces=5)
    x = torch.randn(7, 3)
    z = x @ layer.linear.weight.T + layer.linear.bias  # (7, 20): every piece of every unit
    want = torch.stack([torch.stack([z[:, 5 * i + j] for j in range(5)], 1).max(1).values
                        for i in range(4)], 1)  # unit i: pieces 5i, ..., 5i + 4 (Blocks' order)
    assert torch.allclose(layer(x), want)


@pytest.mark.parametrize("m", [1, 2])
def test_maxout_discriminator_is_pacgans(m):
    torch.manual_seed(0)
    d = DISCRIMINATORS["maxout"]((2,), packs=m)
    inner = d.inner if m > 1 else d
    layers = [inner[0][i].linear for i in range(3)]
    assert [(lin.in_features, lin.out_features) for lin in layers] == [
        (2 * m, 1000), (200, 1000), (200, 1000)]
    assert (inner[1].in_features, inner[1].out_features) == (200, 1)
    weights = torch.cat([lin.weight.flatten() for lin in (*layers, inner[1])])
    assert weights.std().item() == pytest.approx(0.02, rel=0.02)  # N(0, 0.02²), 402k draws
    assert all((lin.bias == 0).all() for lin in (*layers, inner[1]))
    assert sum(p.numel() for p in d.parameters()) == (2 * m + 1) * 1000 + 2 * 201_000 + 201


def test_pacgan_generator_is_four_400_unit_bn_relu_layers():
    torch.manual_seed(0)
    g = call_component(GENERATORS, Component(kind="fc", hidden=[400] * 4, init_std=0.02),
                       "model.generator", 2, (2,))
    kinds = [type(m) for m in g.net]
    assert kinds == [nn.Linear, nn.BatchNorm1d, nn.ReLU] * 4 + [nn.Linear]
    linears = [m for m in g.net if isinstance(m, nn.Linear)]
    assert [lin.out_features for lin in linears] == [400] * 4 + [2]
    weights = torch.cat([lin.weight.flatten() for lin in linears])
    assert weights.std().item() == pytest.approx(0.02, rel=0.02)
    assert all((lin.bias == 0).all() for lin in linears)
    assert g(torch.randn(8, 2)).shape == (8, 2)
    with pytest.raises(ConfigError, match=r"^model\.generator\.init_std=0\.0: must be > 0"):
        call_component(GENERATORS, Component(kind="fc", init_std=0.0), "model.generator", 2,
                       (2,))


def test_list_shows_the_new_options():
    maxout = dict(component_options("discriminators", "maxout"))
    assert maxout == {"hidden": "[200, 200, 200]", "pieces": "5", "init_std": "0.02",
                      "packs": "1", "spectral_norm": "false"}
    for kind in DISCRIMINATORS:
        assert {"packs", "spectral_norm"} <= dict(component_options("discriminators", kind)).keys()


# Spectral normalisation ----------------------------------------------------------------------

SN_NETS = {"mlp": ((2,), {"hidden": [16, 16]}), "maxout": ((2,), {"hidden": [16], "pieces": 3}),
           "dcgan": ((1, 32, 32), {"width": 4, "norm": "none"})}


def spectral_d(kind, seed=0, **extra):
    shape, options = SN_NETS[kind]
    torch.manual_seed(seed)
    return DISCRIMINATORS[kind](shape, spectral_norm=True, **options, **extra), shape


@pytest.mark.parametrize("kind", sorted(SN_NETS))
def test_each_normalised_weight_has_largest_singular_value_one(kind):
    d, shape = spectral_d(kind)
    layers = [m for m in d.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]
    assert layers and all(hasattr(m, "parametrizations") for m in layers)
    with torch.no_grad():
        for _ in range(100):  # each training-mode forward is one power iteration per layer
            d(torch.randn(4, *shape))
    d.eval()
    for layer in layers:
        w = layer.weight.flatten(1)  # W / σ̂(W), reshaped to (out, in·k·k) as torch normalises
        raw = layer.parametrizations.weight.original.flatten(1)
        sigma = torch.linalg.matrix_norm(raw, ord=2)  # σ(W) by an SVD
        assert torch.linalg.matrix_norm(w, ord=2).item() == pytest.approx(1.0, abs=1e-3)
        assert torch.allclose(w, raw / sigma, atol=1e-4)


@pytest.mark.parametrize("kind", sorted(SN_NETS))
def test_spectral_norm_survives_a_checkpoint(kind):
    d, shape = spectral_d(kind, packs=2)
    opt = torch.optim.Adam(d.parameters(), 1e-2)
    for _ in range(5):  # move the raw weights and the power iteration's vectors
        opt.zero_grad()
        d(torch.randn(8, *shape)).sum().backward()
        opt.step()
    state = d.state_dict()
    assert any(k.endswith("parametrizations.weight.original") for k in state)
    assert any(k.endswith("parametrizations.weight.0._u") for k in state)
    assert any(k.endswith("parametrizations.weight.0._v") for k in state)
    buffer = io.BytesIO()
    torch.save(state, buffer)
    buffer.seek(0)
    fresh, _ = spectral_d(kind, seed=1, packs=2)
    fresh.load_state_dict(torch.load(buffer, weights_only=True))
    x = torch.randn(8, *shape)
    assert torch.equal(fresh.eval()(x), d.eval()(x))
    fresh.train(), d.train()  # the next power iteration continues from the same u, v
    assert torch.equal(fresh(x), d(x))


def test_a_spectrally_normalised_packed_run_resumes_exactly(tmp_path):
    cfg = tiny_packed(**{"model.discriminator.spectral_norm": "true", "train.steps": 6})
    whole = build_trainer(cfg)
    for _ in range(6):
        whole.train_step()
    first = build_trainer(cfg)
    for _ in range(3):
        first.train_step()
    save_checkpoint({**first.state_dict(), "config": cfg.to_dict()}, tmp_path / "latest.pt")
    resumed = build_trainer(cfg)
    resumed.load_state_dict(load_checkpoint(tmp_path / "latest.pt"))
    for _ in range(3):
        resumed.train_step()
    got, want = resumed.D.state_dict(), whole.D.state_dict()
    assert any(k.endswith("weight.0._u") for k in want)
    assert all(torch.equal(got[k], want[k]) for k in want)


# The anchors' protocols --------------------------------------------------------------------

@pytest.mark.parametrize("name", ["pacgan_ring8", "pacgan_grid25"])
def test_pacgan_protocol_is_the_authors(name):
    cfg = config.load(CONFIGS / f"{name}.yaml")
    d = cfg.model.discriminator.options()
    assert cfg.model.discriminator.kind == "maxout"
    assert (d["hidden"], d["pieces"], d["init_std"]) == ([200, 200, 200], 5, 0.02)
    assert cfg.model.generator.options() == {"hidden": [400] * 4, "init_std": 0.02}
    assert cfg.train.batch_size == 100 * d["packs"]  # 100 packs of m samples a step
    assert (cfg.model.z_dim, cfg.model.z_dist, cfg.objective.loss) == (2, "normal",
                                                                      "nonsaturating")
    for side in (cfg.optim.g, cfg.optim.d):
        assert side.kind == "adam" and side.options()["lr"] == 1e-4
        assert side.options()["betas"][0] == 0.8
    assert cfg.data.box is None and cfg.eval.samples == 2500 and cfg.train.ema is None


def test_a_packed_d_draws_its_contours_and_checks_the_batch_when_built(tmp_path, capsys):
    """D's contour lines judge each grid point as a pack of copies of it (a tempered run takes
    them at every level); a batch that does not divide into packs is refused before anything
    is written."""
    from thermogan.cli import main

    config = str(CONFIGS / "ring8_betagan.yaml")
    assert main(["train", config, "model.discriminator.packs=2", "train.steps=60",
                 "train.progress=false", "train.tensorboard=false", "eval.samples=200",
                 "--out", str(tmp_path / "run")]) == 0
    assert list((tmp_path / "run" / "figures" / "levels").glob("step_*.npz"))
    assert main(["train", config, "model.discriminator.packs=3", "--out",
                 str(tmp_path / "bad")]) == 2
    assert "does not divide into packs of 3" in capsys.readouterr().err
    assert not (tmp_path / "bad").exists()


# The anchor's protocol and the grid's limits as study files --------------------------------------

def _jobs(name, tmp_path, seeds):
    from thermogan.bench import study

    spec = study.read(study.packaged(name))
    protocol = study.Protocol(seeds, spec.spec.steps, (), tuple(spec.spec.datasets), CONFIGS)
    return spec, study.plan(spec, protocol, tmp_path)


def test_the_pacgan_study_is_gan_and_pacgan2_to_4_beside_the_temperature_rows(tmp_path):
    from thermogan.experiment.build import check_components

    spec, jobs = _jobs("pacgan.yaml", tmp_path, seeds=1)
    assert spec.spec.datasets == ["ring8", "grid25"] and spec.spec.baseline == "GAN"
    assert spec.spec.seeds == 10 and len(jobs) == 2 * len(spec.methods)
    packs = {}
    for job in jobs:
        cfg = config.load(job.config, list(job.overrides))
        check_components(cfg)
        m = cfg.model.discriminator.options()["packs"]
        assert cfg.train.batch_size == 100 * m  # 100 packs a step, as the authors
        assert cfg.train.steps == spec.spec.steps
        packs[job.labels[1][1]] = m
    assert [packs[f"PacGAN{m}"] for m in (2, 3, 4)] == [2, 3, 4] and packs["GAN"] == 1
    assert all(m == 1 for name, m in packs.items() if not name.startswith("PacGAN"))


def test_the_grid_study_changes_one_factor_per_row(tmp_path):
    spec, jobs = _jobs("grid_limits.yaml", tmp_path, seeds=1)
    assert spec.spec.datasets == ["grid25"] and spec.spec.seeds == 3 and len(jobs) == 48
    bases = {name: overrides for name, (_, overrides) in spec.methods.items() if " · " not in name}
    assert list(bases) == ["vanilla", "lens", "β-GAN (adaptive)"]
    for name, (_, overrides) in spec.methods.items():
        base = name.split(" · ")[0]
        assert overrides[:len(bases[base])] == bases[base]
        assert len(overrides) - len(bases[base]) == (1 if " · " in name else 0), name
    steps = {config.load(j.config, list(j.overrides)).train.steps for j in jobs}
    assert steps == {12000, 50000}
