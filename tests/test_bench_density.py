"""The density bench (annealed against β = 1 on U1-U4): the twin configs, its plan (the same
initial weights for both methods, the annealing rescaled with the steps), a tiny run through the
CLI with its table, results and Fig. 6, and the CLI path of one energy run (train, eval,
sample)."""

import dataclasses
import json
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from helpers import assert_figure, capture_figures

from thermogan.bench import density, engine
from thermogan.bench.density import BENCH, METHODS, QUICK, Protocol, rescaled
from thermogan.bench.pool import Executor
from thermogan.cli import main
from thermogan.errors import ThermoganError
from thermogan.experiment import build, config

CONFIGS = Path(__file__).resolve().parents[1] / "configs"



def plan(configs, out, p):
    return density.plan(dataclasses.replace(p, configs=configs), out)


def labels(job):
    return dict(job.labels)

def test_the_twins_differ_in_beta_only():
    annealed = config.load(CONFIGS / "density.yaml")
    fixed = config.load(CONFIGS / "density_fixed.yaml")
    (ref, energy), (ref_fixed, energy_fixed) = annealed.regularisers(), fixed.regularisers()
    assert ref == ref_fixed and ref.kind == "reference" and energy.kind == energy_fixed.kind
    assert energy.options()["weight"] == {"kind": "linear", "start": 0.01, "end": 1.0,
                                          "steps": 1800}  # β reaches 1 at 60% of 3,000 steps
    assert energy_fixed.options()["weight"] == 1.0 and annealed.train.steps == 3000
    assert annealed.objective.loss == "rkl" and annealed.data.kind == "energy"


def test_plan_rescales_the_annealing_and_starts_both_methods_alike(tmp_path):
    jobs = plan(CONFIGS, tmp_path, QUICK)
    assert len(jobs) == 4 * 2 * len(METHODS) and len({j.run_dir for j in jobs}) == len(jobs)
    small = ["model.generator.hidden=[8]", "model.discriminator.hidden=[8]"]
    trainers = {}
    for j in jobs:
        cfg = config.load(j.config, [*j.overrides, *small])
        assert (cfg.train.steps, cfg.seed, cfg.data.energy) == (1000, j.seed, labels(j)["energy"])
        weight = cfg.regularisers()[1].options()["weight"]
        assert weight == ({"kind": "linear", "start": 0.01, "end": 1.0, "steps": 600}
                          if labels(j)["method"] == "annealed" else 1.0)
        if labels(j)["energy"] == "u1":
            trainers[labels(j)["method"], j.seed] = build.build_trainer(cfg)
    for seed in (0, 1):
        a, b = trainers["annealed", seed], trainers["β = 1", seed]
        for x, y in ((a.G, b.G), (a.D, b.D)):
            assert all(torch.equal(u, v) for u, v in zip(x.state_dict().values(),
                                                         y.state_dict().values()))
    assert not torch.equal(trainers["annealed", 0].G[0].weight, trainers["annealed", 1].G[0].weight)
    assert rescaled({"kind": "stages", "parts": [{"steps": 10, "schedule": {"steps": 4}}]}, 0.5) \
        == {"kind": "stages", "parts": [{"steps": 5, "schedule": {"steps": 2}}]}


def test_configs_that_are_not_twins_and_unknown_energies_are_refused(tmp_path):
    for name in METHODS.values():
        (tmp_path / name).write_text((CONFIGS / name).read_text())
    raw = yaml.safe_load((tmp_path / "density_fixed.yaml").read_text())
    raw["optim"]["g"]["lr"] = 0.01
    (tmp_path / "density_fixed.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(ThermoganError, match="not twins: they differ in optim.g.lr"):
        plan(tmp_path, tmp_path / "out", QUICK)
    with pytest.raises(ThermoganError, match="unknown energy 'u7'; valid: u1, u2, u3, u4"):
        plan(CONFIGS, tmp_path / "out", Protocol(energies=("u7",)))


def test_cli_writes_the_table_results_and_figure(tmp_path, capsys, monkeypatch):
    saved = capture_figures(monkeypatch)
    # in this process rather than a spawned worker (bench modes' test covers the pool)
    monkeypatch.setattr(Executor, "map", lambda self, fn, jobs, desc: list(map(fn, jobs)))
    out = tmp_path / "bench"
    assert main(["bench", "density", "--quick", "--steps", "10", "--seeds", "1", "--energies",
                 "u1,u3", "--workers", "1", "--out", str(out)]) == 0
    table = (out / "results.md").read_text()
    for row in ("| u1 | annealed | 1 |", "| u1 | β = 1 | 1 |", "| u3 | exact sampler (floor) |"):
        assert row in table
    result = json.loads((out / "results.json").read_text())
    assert len(result["runs"]) == 4 and result["protocol"]["steps"] == 10
    run = result["runs"][0]
    assert run["protocol"]["samples"] == 50000 and len(run["region_mass"]) == 2
    # per energy: target, initial G, annealed, β = 1
    assert_figure(out / "density.png", min_size=(800, 500), panels=2 * 4, saved=saved)
    assert "density.png" in capsys.readouterr().out
    assert main(["bench", "density", "--seeds", "0"]) == 2
    assert "--seeds 0: must be > 0" in capsys.readouterr().err


def test_aggregate_and_table():
    protocol = {"regions": ["lobe z1>0", "lobe z1<0"], "target_region_mass": [0.5, 0.5],
                "floor_kl_target_model": 0.02, "floor_kl_model_target": 0.015}
    results = [{"energy": "u1", "method": m, "seed": s, "kl_target_model": 0.1 + s + 3 * i,
                "kl_model_target": 0.1, "region_mass": [0.5 - 0.49 * i, 0.5 + 0.49 * i],
                "outside": 0.0, "wall_s": 2.0, "protocol": protocol}
               for i, m in enumerate(METHODS) for s in range(3)]
    columns = engine.table_columns(BENCH, results)
    rows = engine.aggregate(BENCH, columns, results)
    assert [r["method"] for r in rows] == list(METHODS)
    assert rows[1]["kl_target_model"] == pytest.approx(4.1) and rows[1]["missed"] == 3
    assert rows[0]["missed"] == 0 and rows[0]["region_mass"] == pytest.approx([0.5, 0.5])
    text = engine.markdown(BENCH, columns, rows, results, "header")
    assert "| u1 | β = 1 | 3 | 4.100 ± 0.577 | 0.100 ± 0.000 | 0.01 ± 0.00 / 0.99 ± 0.00 " \
           "(0.50 / 0.50) | 3/3 |" in text
    assert "| u1 | exact sampler (floor) | – | 0.020 | 0.015 | 0.50 / 0.50 (lobe z1>0 / " \
           "lobe z1<0) |" in text


@pytest.mark.figures
def test_an_energy_run_through_train_eval_and_sample(tmp_path, capsys, monkeypatch):
    saved = capture_figures(monkeypatch)
    run = tmp_path / "run"
    assert main(["train", str(CONFIGS / "density.yaml"), "data.energy=u3", "train.steps=20",
                 "train.progress=false", "train.tensorboard=false", "device=cpu",
                 "--out", str(run)]) == 0
    summary = json.loads((run / "summary.json").read_text())
    m, p = summary["metrics"], summary["protocol"]
    assert set(m) == {"kl_target_model", "kl_model_target", "region_mass", "outside"}
    assert p["regions"] == ["upper branch", "lower branch"] and p["cells"] == 50
    assert p["samples"] == 50000 and p["window"] == [-4.0, 4.0]
    assert p["floor_kl_target_model"] < 0.05
    assert_figure(run / "figures" / "samples.png", min_size=(400, 400), panels=1, saved=saved)
    capsys.readouterr()
    assert main(["eval", str(run), "--samples", "2000", "--seed", "3"]) == 0
    line = capsys.readouterr().out
    assert line.startswith("u3: KL(target‖model) ") and "(2000 samples, seed 3" in line
    assert main(["sample", str(run), "--n", "7", "--out", str(tmp_path / "x.npy")]) == 0
    assert np.load(tmp_path / "x.npy").shape == (7, 2)
