"""The mode-collapse benchmark (the study file ``bench/modes.yaml`` on the bench engine): its
plan, its statistics and its files."""

import dataclasses
import json
import math
from pathlib import Path

import numpy as np
import pytest
from helpers import assert_figure, capture_figures

from thermogan.bench import engine, origin, packing, study
from thermogan.bench.engine import check_plan
from thermogan.bench.pool import Executor
from thermogan.cli import main
from thermogan.errors import ThermoganError
from thermogan.experiment.config import load, save

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
MODES = study.read(study.packaged("modes.yaml"))
METHODS = MODES.methods
BENCH = study.bench(MODES, "modes")


def plan(configs, out, seeds, steps, methods=(), datasets=("ring8", "grid25"), modes=MODES):
    return study.plan(modes, study.Protocol(seeds, steps, tuple(methods), datasets, configs), out)


def test_plan_gives_every_method_the_same_seeds_and_budget(tmp_path):
    jobs = plan(CONFIGS, tmp_path, seeds=3, steps=500)
    assert len(jobs) == 2 * len(METHODS) * 3
    for job in jobs:
        assert "train.steps=500" in job.overrides and f"seed={job.seed}" in job.overrides
    assert len({j.run_dir for j in jobs}) == len(jobs)
    with pytest.raises(ThermoganError, match="does not exist"):
        plan(tmp_path, tmp_path, 1, 10)
    with pytest.raises(ThermoganError, match="unknown method"):
        plan(CONFIGS, tmp_path, 1, 10, methods=["gan"])


def test_plan_refuses_a_run_folder_that_holds_another_config(tmp_path):
    jobs = plan(CONFIGS, tmp_path, 1, 500, methods=["β-GAN"], datasets=("ring8",))
    jobs[0].run_dir.mkdir(parents=True)
    save(load(jobs[0].config, [*jobs[0].overrides, "train.steps=400", "device=cuda"]),
         jobs[0].run_dir / "config.yaml")
    with pytest.raises(ThermoganError, match="train.steps differs from this bench's"):
        check_plan(jobs)
    save(load(jobs[0].config, [*jobs[0].overrides, "device=cuda"]), jobs[0].run_dir / "config.yaml")
    check_plan(jobs)  # device may differ


def test_aggregate_is_mean_and_standard_error():
    rng = np.random.default_rng(0)
    modes, hq = rng.integers(5, 9, 10), rng.random(10)
    results = [{"data": "ring8", "method": "m", "seed": i, "modes": int(modes[i]),
                "high_quality": float(hq[i]), "reverse_kl": 0.1 * i, "wall_s": 1.0,
                "protocol": {"components": 8}} for i in range(10)]
    columns = engine.table_columns(BENCH, results)
    (row,) = engine.aggregate(BENCH, columns, results)
    assert row["modes"] == pytest.approx(modes.mean())
    assert row["modes_se"] == pytest.approx(modes.std(ddof=1) / math.sqrt(10))
    assert row["high_quality_se"] == pytest.approx(hq.std(ddof=1) / math.sqrt(10))
    results[0]["reverse_kl"] = math.inf
    (row,) = engine.aggregate(BENCH, columns, results)
    assert math.isinf(row["reverse_kl"])
    assert "| inf |" in engine.markdown(BENCH, columns, [row], results, "header")


def test_cli_writes_results(tmp_path, capsys, monkeypatch):
    out = tmp_path / "bench"
    saved = capture_figures(monkeypatch)
    args = ["bench", "modes", "--quick", "--steps", "40", "--seeds", "2", "--workers", "1", "--out",
            str(out), "--configs", str(CONFIGS), "--methods", "vanilla (saturating),β-GAN"]
    assert main(args) == 0
    table = (out / "results.md").read_text().split("Statistics over seeds")[0]
    assert table.count("| ring8 |") == 2 and table.count("| grid25 |") == 2
    result = json.loads((out / "results.json").read_text())
    assert len(result["runs"]) == 8 and result["protocol"]["steps"] == 40
    assert {r["seed"] for r in result["runs"]} == {0, 1}
    # one panel per (data set, method) of seed 0
    assert_figure(out / "modes.png", min_size=(600, 600), panels=4, saved=saved)
    # β-GAN minus vanilla: a panel per (data set, metric)
    assert_figure(out / "modes_effects.png", min_size=(600, 250), panels=2 * 3, saved=saved)
    assert "results.md" in capsys.readouterr().out
    assert result["protocol"]["trained_by"] == {origin.this_code(): 8}
    assert "other code" not in table
    # a finished run is reused whatever code trained it, and the table says which code did
    path = sorted(out.rglob("summary.json"))[0]
    summary = json.loads(path.read_text())
    summary["provenance"]["git_commit"] = "0123456789abcdef"
    path.write_text(json.dumps(summary))
    assert main(args) == 0
    header = (out / "results.md").read_text().splitlines()[0]
    version = summary["provenance"]["thermogan"]
    assert header.endswith(f" 1 of 8 runs were reused from other code than this "
                           f"({origin.this_code()}): thermogan {version} at 0123456789ab: 1; "
                           "move them away, or give another --out, to measure this code.")
    assert json.loads((out / "results.json").read_text())["protocol"]["trained_by"] == {
        origin.this_code(): 7, f"thermogan {version} at 0123456789ab": 1}


def test_code_is_named_by_version_and_commit():
    assert origin.label({"thermogan": "0.1.0", "git_commit": "ab" * 20}) == \
        f"thermogan 0.1.0 at {'ab' * 6}"
    assert origin.label({"thermogan": "0.1.0", "git_commit": None}) == "thermogan 0.1.0"
    assert origin.label(None) == origin.UNKNOWN
    assert origin.note({origin.this_code(): 3}) == ""


def test_method_names_can_be_listed_on_the_command_line():
    """--methods is comma-separated: no name may hold a comma."""
    assert not [m for m in METHODS if "," in m]


def test_every_methods_runs_train_in_shared_computations(tmp_path):
    jobs = plan(CONFIGS, tmp_path, seeds=2, steps=500, datasets=("ring8",))
    packed = packing.pack(jobs)
    assert all(len(unit) > 1 for unit in packed.units) and packed.notes[-1].startswith(
        f"{len(jobs)} runs to train: {len(jobs)} of them in {len(packed.units)} shared")
    assert sorted(job.run_dir for unit in packed.units for job in unit) == sorted(
        job.run_dir for job in jobs)
    assert len(packed.units) < len({job.labels for job in jobs})  # methods share them
    # a finished run is reused, alone, and its steps are not counted in the floor
    first = packed.units[0][0]
    first.run_dir.mkdir(parents=True)
    (first.run_dir / "summary.json").write_text("{}")
    again = packing.pack(jobs)
    assert again.units[-1] == (first,)
    assert again.notes[-1].startswith(f"{len(jobs) - 1} runs to train: {len(jobs) - 1} of them")
    assert again.flops < packed.flops


def test_a_method_ensembles_cannot_train_says_why(tmp_path, capsys, rprop_registered):
    rprop = dataclasses.replace(MODES, methods={"Rprop D": (
        "{data}_vanilla.yaml", (rprop_registered,))})
    jobs = plan(CONFIGS, tmp_path, seeds=2, steps=2, methods=["Rprop D"],
                datasets=("ring8",), modes=rprop)
    results = engine.train(BENCH, jobs, Executor(1))
    assert len(results) == 2
    out = capsys.readouterr().out
    assert "bench modes: Rprop D on ring8 trains run by run: stacked members do not " \
           "support optimizer Rprop" in out


def test_run_folders_of_the_bench_before_the_engine_aggregate_to_its_numbers(tmp_path):
    """summary.json of each run of ``bench modes --quick --steps 200 --seeds 2 --datasets ring8``
    as the code before the bench engine left them, and its results.json: the engine's records
    and rows of those runs give the same values (and more: the statistics)."""
    from thermogan.experiment import runs

    data = Path(__file__).parent / "data" / "modes_before"
    old = json.loads((data / "results.json").read_text())
    before = tmp_path / "before"  # the run folders, from the one file that keeps their summaries
    for name, summary in json.loads((data / "summaries.json").read_text()).items():
        (before / name).parent.mkdir(parents=True, exist_ok=True)
        (before / name).write_text(json.dumps(summary))
    p = study.Protocol(2, 200, ("vanilla (saturating)", "β-GAN", "lens (TAN)"), ("ring8",),
                       CONFIGS)
    results = [engine.run_record(engine.scored, job, runs.read_summary(job.run_dir), p)
               for job in study.plan(MODES, p, before)]
    engine.write(BENCH, results, tmp_path, "header", {})
    new = json.loads((tmp_path / "results.json").read_text())
    assert new["runs"] == old["runs"]
    assert len(new["summary"]) == len(old["summary"]) == 3
    for was, now in zip(old["summary"], new["summary"]):
        assert {k: now[k] for k in was} == was
        assert "modes_ci" in now
