"""`thermogan bench oscillation` end to end on small MNIST files, and its argument checks."""

import dataclasses
import json

import pytest
import yaml
from helpers import assert_figure, capture_figures

from thermogan.bench import engine
from thermogan.bench.engine import check_plan
from thermogan.bench.oscillation import BENCH, Protocol, plan
from thermogan.bench.pool import Executor
from thermogan.cli import main
from thermogan.errors import ThermoganError


def tiny_config(tmp_path):
    raw = {"name": "tiny", "device": "cpu", "data": {"kind": "mnist"},
           "tempering": {"kind": "heat", "levels": 3},
           "model": {"generator": {"kind": "fc", "hidden": [16]},
                     "discriminator": {"kind": "fc", "hidden": [16]}, "z_dim": 8},
           "train": {"steps": 10, "batch_size": 8}, "eval": {"samples": 40}}
    path = tmp_path / "tiny.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_bench_writes_a_row_per_k_from_tracked_curves(tmp_path, mnist_home, monkeypatch):
    saved = capture_figures(monkeypatch)
    p = Protocol(levels=(2, 4), seeds=1, steps=60, every=4, samples=20, cutoff=0.2,
                 config=tiny_config(tmp_path))
    text, _ = engine.run(BENCH, p, tmp_path / "out", Executor(2))
    assert "| 2 | 1 |" in text and "| 4 | 1 |" in text
    record = json.loads((tmp_path / "out" / "results.json").read_text())
    for run in record["runs"]:
        assert run["steps"] == list(range(4, 61, 4))
        assert run["window"][0] == run["knee_step"] and run["window"][1] == 60
        assert run["amplitude"] >= 0 and run["sha256"]
    # the curves of seed 0, and the amplitude against K
    assert_figure(tmp_path / "out" / "oscillation.png", min_size=(1200, 450), panels=2,
                  saved=saved)
    # the finished runs are reused only by the same protocol
    with pytest.raises(ThermoganError, match="eval.track_samples differs from this bench's"):
        check_plan(plan(dataclasses.replace(p, samples=10), tmp_path / "out"))


def test_bad_arguments_are_one_line_errors(tmp_path, capsys, mnist_home):
    assert main(["bench", "oscillation", "--config", str(tmp_path / "none.yaml"),
                 "--out", str(tmp_path)]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["bench", "oscillation", "--config", str(tiny_config(tmp_path)), "--steps", "50",
                 "--every", "10", "--out", str(tmp_path)]) == 2
    assert "fewer than 10 evaluations" in capsys.readouterr().err
    assert main(["bench", "oscillation", "--levels", "2,x", "--out", str(tmp_path)]) == 2
    assert "--levels" in capsys.readouterr().err
    assert main(["bench", "oscillation", "--config", str(tiny_config(tmp_path)), "--levels", "1",
                 "--steps", "60", "--every", "4", "--out", str(tmp_path)]) == 2
    assert "tempering.levels=1" in capsys.readouterr().err
