"""The Langevin conditional-MNIST bench: the twin configs, its plan (the same initial weights for
every method), a tiny run through the CLI with its table, results and per-class grid."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers import assert_figure, capture_figures

from thermogan.bench import engine, langevin
from thermogan.bench.langevin import BENCH, METHODS, QUICK, Protocol, langevin_parts
from thermogan.bench.pool import Executor
from thermogan.cli import main
from thermogan.errors import ThermoganError
from thermogan.experiment import build, config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"


@pytest.mark.parametrize("suffix", ["_cpu", ""])
def test_the_configs_are_twins_that_differ_in_blur_and_the_sgld_d(suffix):
    plain = config.load(CONFIGS / f"mnist_cond{suffix}.yaml")
    twin = config.load(CONFIGS / f"mnist_langevin{suffix}.yaml")
    parts = langevin_parts(CONFIGS / f"mnist_cond{suffix}.yaml",
                           CONFIGS / f"mnist_langevin{suffix}.yaml")
    assert set(parts) == {"tempering", "optim.d"}
    assert plain.tempering is None and plain.optim.d.kind == "adam"
    assert twin.tempering.kind == "blur" and twin.optim.d.kind == "sgld"
    for cfg in (plain, twin):
        assert cfg.model.conditional and cfg.model.discriminator.options()["norm"] == "none"
        assert cfg.train.keep_checkpoints  # the per-class grid over training



def plan(configs, out, p, methods=()):
    return langevin.plan(dataclasses.replace(p, configs=configs, methods=tuple(methods)), out)


def method_of(job):
    return dict(job.labels)["method"]

def test_plan_takes_each_method_from_the_twins_with_the_same_seeds(tmp_path):
    jobs = plan(CONFIGS, tmp_path, QUICK)
    assert len(jobs) == len(METHODS) * 3 and len({j.run_dir for j in jobs}) == len(jobs)
    assert "langevin_blur_adaptive_seed0" in {j.run_dir.name for j in jobs}
    loaded = {(method_of(j), j.seed): config.load(j.config, list(j.overrides)) for j in jobs}
    twin = config.load(CONFIGS / "mnist_langevin_cpu.yaml")
    for (method, seed), cfg in loaded.items():
        blurred, sgld = "blur" in method, "SGLD" in method
        assert (cfg.tempering is None) != blurred
        blur = cfg.tempering.options() if blurred else {}
        if method == "blur (adaptive)":  # the twin's blur, its σ set by the controller
            # u can cross [0, 1] within the fade: half of the 1,500 steps, of batch B
            assert blur.pop("sigma") == {"kind": "adaptive", "start": 1, "hot": 1.0,
                                         "images": 750 * cfg.train.batch_size}
            assert blur == {k: v for k, v in twin.tempering.options().items() if k != "sigma"}
        elif blurred:
            assert cfg.tempering == twin.tempering
        assert (cfg.optim.d.kind == "sgld") == sgld
        assert (cfg.seed, cfg.train.steps, cfg.eval.samples) == (seed, 1500, 2000)
        assert cfg.train.keep_checkpoints == (seed == 0)


def test_every_method_starts_from_the_same_weights(tmp_path, mnist_home):
    small = ["model.z_dim=8", "model.generator.hidden=[16]", "model.discriminator.hidden=[16]"]
    jobs = plan(CONFIGS, tmp_path, Protocol(seeds=2, steps=10))
    trainers = {(method_of(j), j.seed): build.build_trainer(
        config.load(j.config, [*j.overrides, *small, "device=cpu"])) for j in jobs}
    for seed in (0, 1):
        ref = trainers["plain", seed]
        for method in METHODS:
            t = trainers[method, seed]
            for a, b in ((ref.G, t.G), (ref.D, t.D)):
                assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(),
                                                             b.state_dict().values()))
            assert all(torch.equal(ref.rngs[k].get_state(), t.rngs[k].get_state())
                       for k in ("data", "latents"))
    assert not torch.equal(trainers["plain", 0].G.net.net[0].weight,
                           trainers["plain", 1].G.net.net[0].weight)


def test_configs_that_are_not_twins_are_refused(tmp_path):
    for name in ("mnist_cond_cpu.yaml", "mnist_langevin_cpu.yaml"):
        (tmp_path / name).write_text((CONFIGS / name).read_text())
    raw = yaml.safe_load((tmp_path / "mnist_langevin_cpu.yaml").read_text())
    raw["train"]["batch_size"] = 32
    (tmp_path / "mnist_langevin_cpu.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ThermoganError, match="not twins: they differ in train.batch_size"):
        plan(tmp_path, tmp_path / "out", QUICK)
    with pytest.raises(ThermoganError, match="unknown method 'sgld'"):
        plan(CONFIGS, tmp_path / "out", QUICK, methods=["sgld"])


def tiny_twins(folder: Path) -> Path:
    """The CPU twins with small networks, batch and evaluation."""
    folder.mkdir()
    for name in ("mnist_cond_cpu.yaml", "mnist_langevin_cpu.yaml"):
        raw = yaml.safe_load((CONFIGS / name).read_text())
        raw["model"].update(z_dim=8, generator={"kind": "fc", "hidden": [16]},
                            discriminator={"kind": "fc", "hidden": [16], "norm": "none"})
        raw["train"]["batch_size"] = 8
        raw["eval"].update(samples=60, track_every=None)
        raw["device"] = "cpu"
        (folder / name).write_text(yaml.safe_dump(raw))
    raw = yaml.safe_load((CONFIGS / "ring8_langevin.yaml").read_text())  # Fig. 1's ring run
    raw["train"]["batch_size"], raw["eval"]["samples"] = 16, 60
    (folder / "ring8_langevin.yaml").write_text(yaml.safe_dump(raw))
    return folder


def test_cli_writes_the_table_results_and_the_class_grid(tmp_path, mnist_home, capsys,
                                                         monkeypatch):
    saved = capture_figures(monkeypatch)
    # in this process rather than a spawned worker (bench modes' test covers the pool)
    monkeypatch.setattr(Executor, "map", lambda self, fn, jobs, desc: list(map(fn, jobs)))
    out, configs = tmp_path / "bench", tiny_twins(tmp_path / "configs")
    assert main(["bench", "langevin", "--steps", "10", "--seeds", "2", "--workers", "1",
                 "--methods", "plain,blur + SGLD", "--out", str(out), "--configs",
                 str(configs)]) == 0
    table = (out / "results.md").read_text()
    assert "| plain | 2 |" in table and "| blur + SGLD | 2 |" in table
    result = json.loads((out / "results.json").read_text())
    assert len(result["runs"]) == 4 and {r["seed"] for r in result["runs"]} == {0, 1}
    assert all(0 <= r["class_fidelity"] <= 1 for r in result["runs"])
    # two rows of blocks (methods) at steps 2, 4, ..., 10 of seed 0
    assert_figure(out / "classes.png", min_size=(300, 500), panels=2 * 5, saved=saved)
    assert_figure(out / "curves.png", panels=1, saved=saved)  # untracked: the SGLD noise only
    # Fig. 1: the ring run (10 steps, a snapshot every 3) at three of its snapshots, and its noise
    assert_figure(out / "contours.png", panels=3 + 1, saved=saved)
    assert "classes.png" in capsys.readouterr().out
    job = plan(configs, out, Protocol(seeds=2, steps=10), methods=["plain"])[1]
    finished = (job.run_dir / "summary.json").stat().st_mtime_ns
    assert engine.train(BENCH, [job], Executor(1))[0]["seed"] == 1  # reused, not trained
    assert (job.run_dir / "summary.json").stat().st_mtime_ns == finished
    assert main(["bench", "langevin", "--steps", "0"]) == 2
    assert "--steps 0: must be > 0" in capsys.readouterr().err


def test_aggregate_is_mean_and_standard_error_in_method_order():
    results = [{"method": m, "seed": s, "fd_mnist": 10.0 * s + i, "class_fidelity": 0.5 + 0.1 * s,
                "wall_s": 2.0} for i, m in reversed(list(enumerate(reversed(METHODS))))
               for s in range(3)]  # in plan order
    columns = engine.table_columns(BENCH, results)
    rows = engine.aggregate(BENCH, columns, results)
    assert [r["method"] for r in rows] == list(METHODS)
    plain = 10.0 + len(METHODS) - 1  # seeds 0, 1, 2 at 10·s + i, plain listed last (i = n − 1)
    assert rows[0]["fd_mnist"] == pytest.approx(plain) and rows[0]["fd_mnist_se"] == (
        pytest.approx(10 / 3 ** 0.5))
    assert f"| plain | 3 | {plain:.1f} ± 5.8 | 60.0 ± 5.8 | 2 ± 0 |" in engine.markdown(
        BENCH, columns, rows, results, "header")


def test_class_samples_draw_the_same_latents_under_every_class():
    from torch import nn

    from thermogan.data.images import ImageData
    from thermogan.report.classes import class_samples
    from thermogan.train.trainer import Trainer

    class ShowZ(nn.Module):  # G(z, y) = z as an image, y ignored
        def __init__(self):
            super().__init__()
            self.unused = nn.Linear(1, 1)

        def forward(self, z, y):
            return z.view(len(z), 1, 2, 2)

    data = ImageData(torch.zeros(4, 1, 2, 2), torch.arange(4), "digits", num_classes=4)
    shots = class_samples(Trainer(ShowZ(), nn.Linear(1, 1), data, z_dim=4, num_classes=4), 3, 7)
    assert shots.shape == (4, 3, 1, 2, 2)
    assert all(np.array_equal(shots[0], s) for s in shots)  # one z per column, every class
    assert not np.array_equal(shots[0, 0], shots[0, 1])
