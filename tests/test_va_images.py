"""Variational annealing on images: the feature-space score term on a DCGAN D, its denoiser, the
CIFAR-10 Table 1 configs and the MNIST protocol, and ``thermogan bench annealing``."""

import dataclasses
import json
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers import assert_figure, capture_figures

from thermogan.bench import annealing, engine
from thermogan.bench.annealing import BENCH, METHODS, QUICK, Protocol, weight
from thermogan.bench.pool import Executor
from thermogan.cli import main
from thermogan.data.images import ImageData
from thermogan.errors import ThermoganError
from thermogan.experiment import build, config
from thermogan.nets.dcgan import DCGANDiscriminator, DCGANGenerator
from thermogan.objectives.denoiser import DenoiserPlayer
from thermogan.objectives.penalties import WGANGP
from thermogan.objectives.terms import WeightedTerm
from thermogan.objectives.variational import ScoreRegulariser
from thermogan.schedules import Constant, schedule_from_dict
from thermogan.step import DStep
from thermogan.train.trainer import Trainer

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
CIFAR = [CONFIGS / f"va_cifar10_{loss}.yaml" for loss in ("rkl", "jsd", "wgangp")]
MNIST_CONFIG = CONFIGS / "va_mnist_cpu.yaml"


def images(n: int, channels: int = 1, seed: int = 0) -> ImageData:
    gen = torch.Generator().manual_seed(seed)
    return ImageData(torch.rand(n, channels, 32, 32, generator=gen) * 2 - 1)


# -- the feature-space score term on a DCGAN D --------------------------------------------------


def feature_trainer(lam: float = 1.0) -> tuple[Trainer, ScoreRegulariser]:
    torch.manual_seed(0)
    data = images(128)
    G, D = DCGANGenerator(16, 1, width=8), DCGANDiscriminator(1, width=8)
    term = ScoreRegulariser(data, score="dae", space="features", sigma=1.0, hidden=(64,),
                            discriminator=D)
    trainer = Trainer(G, D, data, z_dim=16, loss="rkl", batch_size=16, z_dist="uniform",
                      g_terms=[WeightedTerm(term, Constant(lam))], seed=1)
    return trainer, term


def test_the_feature_term_reaches_g_and_leaves_d_and_the_denoiser_alone():
    trainer, term = feature_trainer()
    assert term.denoiser.body[0].in_features == 4 * 8 * 4 * 4  # D's penultimate: 4C·4·4
    for _ in range(30):  # a score that is no longer 0 (the denoiser starts at r = x)
        trainer.d_step()
        term.players()[0].update(DStep(trainer.data.sample(16)), trainer.D, trainer.loss)
    # the term alone has a gradient on G's weights
    fake = trainer.generate(16)
    grads = torch.autograd.grad(term(fake, None, trainer.D), list(trainer.G.parameters()))
    assert sum(float(g.abs().sum()) for g in grads) > 0
    # a G step: D's weights and gradients and the denoiser's gradients are untouched
    d = trainer.d_step()
    d_weights = [p.detach().clone() for p in trainer.D.parameters()]
    d_grads = [p.grad.clone() for p in trainer.D.parameters()]
    g_weights = [p.detach().clone() for p in trainer.G.parameters()]
    logs = trainer.g_step(d)
    assert float(logs["g_score"]) != 0
    assert all(torch.equal(a, p) for a, p in zip(d_weights, trainer.D.parameters()))
    assert all(torch.equal(a, p.grad) for a, p in zip(d_grads, trainer.D.parameters()))
    assert all(p.grad is None for p in term.denoiser.parameters())
    assert any(not torch.equal(a, p) for a, p in zip(g_weights, trainer.G.parameters()))


def test_the_term_changes_g_s_step_by_its_weight():
    steps = {}
    for lam in (0.0, 1.0):
        trainer, _ = feature_trainer(lam)
        for _ in range(3):
            trainer.train_step()
        steps[lam] = [p.detach().clone() for p in trainer.G.parameters()]
    assert any(not torch.equal(a, b) for a, b in zip(steps[0.0], steps[1.0]))


def test_the_denoiser_learns_a_fixed_set_of_features():
    torch.manual_seed(0)
    data = images(256, seed=3)
    D = DCGANDiscriminator(1, width=4)  # F = 256 features, one hidden layer as wide
    term = ScoreRegulariser(data, score="dae", space="features", sigma=1.0, hidden=(256,),
                            discriminator=D)
    player = term.players()[0]
    assert isinstance(player, DenoiserPlayer)
    with torch.no_grad():
        feats = term.inputs(data.images, D).flatten(1)  # (256, F), fixed: D does not train

    def held_out_loss() -> float:
        with torch.no_grad():
            return float(term.denoiser.loss(feats, torch.Generator().manual_seed(9)))

    before = held_out_loss()
    assert before == pytest.approx(feats.shape[1], rel=0.05)  # r = x at first: the noise, σ²F
    gen = torch.Generator().manual_seed(4)
    for _ in range(300):
        player.update(DStep(data.sample(64, gen)), D, None, gen)
    assert held_out_loss() < 0.4 * before


# -- the configs ---------------------------------------------------------------------------------


def write_cifar_batch(path: Path, n: int, seed: int) -> None:
    rng = np.random.default_rng(seed)
    batch = {b"data": rng.integers(0, 256, (n, 3072), dtype=np.uint8),
             b"labels": rng.integers(0, 10, n).tolist(), b"batch_label": b"x"}
    path.write_bytes(pickle.dumps(batch, protocol=2))


@pytest.fixture
def cifar_home(tmp_path, monkeypatch):
    """A data folder (THERMOGAN_DATA) with tiny CIFAR-10 python batches."""
    root = tmp_path / "data" / "cifar-10"
    root.mkdir(parents=True)
    for i, name in enumerate([f"data_batch_{i}" for i in range(1, 6)] + ["test_batch"]):
        write_cifar_batch(root / name, 8, i)
    monkeypatch.setenv("THERMOGAN_DATA", str(tmp_path / "data"))
    return root


def header_overrides(path: Path) -> dict[str, str]:
    """The schedule overrides listed in a config's header, by preset."""
    found = re.findall(r'regulariser\.weight="(\{kind: (pma|nma|oa),[^"]*\})"', path.read_text())
    return {kind: spec for spec, kind in found}


@pytest.mark.parametrize("path", CIFAR, ids=[p.stem for p in CIFAR])
def test_the_cifar_configs_build_as_table_1_and_train(path, cifar_home):
    cfg = config.load(path, ["device=cpu", "train.batch_size=4", "train.progress=false"])
    trainer = build.build_trainer(cfg)
    wgan = "wgangp" in path.stem
    lr = 2e-4 if wgan else 1e-4
    assert trainer.data.shape == (3, 32, 32) and cfg.train.steps == 150000
    assert (trainer.z_dim, trainer.z_dist) == (128, "uniform")
    assert trainer.loss.name == {"rkl": "rkl", "jsd": "nonsaturating", "wgangp": "wgan-gp"}[
        path.stem.rsplit("_", 1)[1]]
    for opt in (trainer.g_opt, trainer.d_opt):
        assert opt.param_groups[0]["lr"] == lr and opt.param_groups[0]["betas"] == (0.5, 0.9)
    assert trainer.penalty == (WGANGP(10.0) if wgan else None)
    assert any(isinstance(m, torch.nn.BatchNorm2d) for m in trainer.D.modules()) == (not wgan)
    (term,) = trainer.g_terms
    denoiser = term.term.denoiser
    linears = [m for m in denoiser.body if isinstance(m, torch.nn.Linear)]
    assert [(m.in_features, m.out_features) for m in linears] == [(4096, 4096)] * 2  # F = 4C·16
    assert denoiser.sigma == 1.0
    assert term.term.space == "features" and term.weight(0) == 0
    assert term.players()[0].optimizer.param_groups[0]["lr"] == lr
    logs = trainer.train_step()
    assert all(torch.isfinite(v) for v in logs.values())
    # the grid's schedules: in our λ, B = 1/4096 (the authors' B = 1 over 4,096 features)
    overrides = header_overrides(path)
    assert set(overrides) == {"pma", "nma", "oa"}
    for kind, spec in overrides.items():
        lam = schedule_from_dict(config.load(path, [f"regulariser.weight={spec}"])
                                 .regulariser.options()["weight"])
        assert lam(0) * 4096 == pytest.approx(+1.0 if kind == "nma" else -1.0)
        assert lam(150000) == 0


def test_the_mnist_protocol_is_table_1_reduced():
    cfg = config.load(MNIST_CONFIG)
    table = config.load(CIFAR[0])
    for key in ("objective", "optim"):
        assert getattr(cfg, key) == getattr(table, key)
    assert cfg.model.z_dim == 128 and cfg.model.z_dist == "uniform"
    assert cfg.train.batch_size == 64 and cfg.regulariser.options()["weight"] == 0
    reg = cfg.regulariser.options()
    assert (reg["score"], reg["space"], reg["sigma"]) == ("dae", "features", 1.0)
    for kind, spec in header_overrides(MNIST_CONFIG).items():  # the bench's own schedules
        loaded = config.load(MNIST_CONFIG, [f"regulariser.weight={spec}"])
        assert loaded.regulariser.options()["weight"] == weight(
            {"pma": "PMA", "nma": "NMA", "oa": "OA"}[kind], cfg.train.steps, 0.5)


# -- the bench -----------------------------------------------------------------------------------


SMALL = ["model.generator.width=4", "model.discriminator.width=4", "regulariser.hidden=[16]",
         "train.batch_size=8", "device=cpu"]


def plan(config, out, p, methods=()):
    return annealing.plan(dataclasses.replace(p, config=config, methods=tuple(methods)), out)


def method_of(job):
    return dict(job.labels)["method"]


def test_plan_weights_each_method_and_keeps_the_rest(tmp_path):
    jobs = plan(MNIST_CONFIG, tmp_path, QUICK)
    assert len(jobs) == len(METHODS) * 3 and len({j.run_dir for j in jobs}) == len(jobs)
    for job in jobs:
        cfg = config.load(job.config, list(job.overrides))
        lam = schedule_from_dict(cfg.regulariser.options()["weight"])
        assert (cfg.seed, cfg.train.steps, cfg.eval.samples) == (job.seed, 250, 1000)
        assert (cfg.eval.track_every, cfg.eval.track_samples) == (50, 500)
        # λ at 0 and after OA's first half-period (N/15 = 16), then 0 from 0.8N (OA: from N)
        expected = {"static 0": (0, 0), "PMA": (-0.5, -0.5 * 0.92), "NMA": (0.5, 0.5 * 0.92),
                    "OA": (-0.5, 0.5 * (1 - 16 / 250))}[method_of(job)]
        assert (lam(0), lam(16)) == pytest.approx(expected)
        assert (lam(200) == 0) == (method_of(job) != "OA") and lam(250) == 0
    with pytest.raises(ThermoganError, match="unknown method 'pma'"):
        plan(MNIST_CONFIG, tmp_path, QUICK, methods=["pma"])
    with pytest.raises(ThermoganError, match="expected one regulariser of kind score"):
        plan(CONFIGS / "mnist_vanilla_cpu.yaml", tmp_path, QUICK)


def test_every_method_starts_from_the_same_weights(tmp_path, mnist_home):
    jobs = plan(MNIST_CONFIG, tmp_path, Protocol(seeds=2, steps=10))
    trainers = {(method_of(j), j.seed): build.build_trainer(
        config.load(j.config, [*j.overrides, *SMALL])) for j in jobs}
    for seed in (0, 1):
        ref = trainers["static 0", seed]
        for method in METHODS:
            t = trainers[method, seed]
            for a, b in ((ref.G, t.G), (ref.D, t.D),
                         (ref.g_terms[0].term.denoiser, t.g_terms[0].term.denoiser)):
                assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                             b.state_dict().values()))
            assert all(torch.equal(ref.rngs[k].get_state(), t.rngs[k].get_state())
                       for k in ref.rngs)
    assert not torch.equal(trainers["static 0", 0].G.net[0].weight,
                           trainers["static 0", 1].G.net[0].weight)


def tiny_config(folder: Path) -> Path:
    raw = yaml.safe_load(MNIST_CONFIG.read_text())
    raw["model"].update(generator={"kind": "dcgan", "width": 4},
                        discriminator={"kind": "dcgan", "width": 4})
    raw["regulariser"]["hidden"] = [16]
    raw["train"].update(batch_size=8, log_every=2)  # λ reaches 0 at a log line (0.8N = 8)
    raw["device"] = "cpu"
    folder.mkdir()
    (folder / "va.yaml").write_text(yaml.safe_dump(raw))
    return folder / "va.yaml"


def test_cli_writes_the_table_results_and_curves(tmp_path, mnist_home, capsys, monkeypatch):
    saved = capture_figures(monkeypatch)
    # in this process rather than a spawned worker (bench modes' test covers the pool)
    monkeypatch.setattr(Executor, "map", lambda self, fn, jobs, desc: list(map(fn, jobs)))
    small = ("eval.samples=40", "eval.track_every=5", "eval.track_samples=30")
    monkeypatch.setattr(annealing, "BENCH", dataclasses.replace(BENCH, quick=Protocol(
        steps=10, overrides=small)))
    out, cfg = tmp_path / "bench", tiny_config(tmp_path / "configs")
    assert main(["bench", "annealing", "--quick", "--seeds", "2", "--workers", "1",
                 "--out", str(out), "--config", str(cfg)]) == 0
    table = (out / "results.md").read_text()
    for method in METHODS:
        assert f"| {method} | 2 |" in table
    assert "| static 0 | 2 |" in table and "| 1.000 | – |" in table
    result = json.loads((out / "results.json").read_text())
    assert len(result["runs"]) == 2 * len(METHODS) and result["protocol"]["bound"] == 0.5
    assert all([s for s, _ in r["track"]] == [5, 10] for r in result["runs"])
    assert_figure(out / "curves.png", panels=2, saved=saved)
    assert "curves.png" in capsys.readouterr().out
    job = plan(cfg, out, Protocol(seeds=2, steps=10, overrides=small), methods=["OA"])[1]
    finished = (job.run_dir / "summary.json").stat().st_mtime_ns
    assert engine.train(BENCH, [job], Executor(1), QUICK)[0]["seed"] == 1  # reused, not trained
    assert (job.run_dir / "summary.json").stat().st_mtime_ns == finished
    assert main(["bench", "annealing", "--bound", "0"]) == 2
    assert "--bound 0.0: must be > 0" in capsys.readouterr().err


def test_aggregate_pairs_each_method_with_static_0_by_seed():
    fds = {"static 0": [100, 120, 110], "PMA": [90, 130, 100], "NMA": [80, 100, 90],
           "OA": [110, 130, 120]}
    results = [{"method": m, "seed": s, "fd_mnist": fd, "wall_s": 10.0}
               for m in METHODS for s, fd in enumerate(fds[m])]  # in plan order
    rows = engine.aggregate(BENCH, engine.table_columns(BENCH, results), results)
    assert [r["method"] for r in rows] == list(METHODS)
    by = {r["method"]: r for r in rows}
    assert by["NMA"]["ratio"] == pytest.approx(90 / 110) and by["NMA"]["better"] == 3
    assert by["PMA"]["better"] == 2 and by["OA"]["better"] == 0
    text = engine.markdown(BENCH, engine.table_columns(BENCH, results), rows, results, "header")
    assert "| NMA | 3 | 90.0 ± 5.8 | 0.818 | 3 / 3 | 10 ± 0 |" in text
    assert "| static 0 | 3 | 110.0 ± 5.8 | 1.000 | – | 10 ± 0 |" in text
