"""A run's figures come from its files alone (``report/run_figures.py``): what the files hold
decides which figures are drawn, with no trainer and no method named."""

import json

import pytest

from thermogan.report import run_figures

pytestmark = pytest.mark.figures  # the runs here draw their figures (tests/conftest.py)


def _lines(path, rows):
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))


def test_the_files_decide_the_figures(tmp_path):
    (tmp_path / "config.yaml").write_text("name: toy\n")
    _lines(tmp_path / "metrics.jsonl", [{"step": s, "d_loss": 1.0} for s in (10, 20)])
    assert run_figures.draw(tmp_path) == []  # losses alone: no figure of this module's
    _lines(tmp_path / "metrics.jsonl", [
        {"step": s, "heat_u": u, "sign_r": 0.5, "sign_target": 0.6}
        for s, u in ((10, 1.0), (20, 0.9))])
    _lines(tmp_path / run_figures.TRACKED, [{"step": s, "fd_mnist": f}
                                            for s, f in ((10, 80.0), (20, 40.0))])
    drawn = run_figures.draw(tmp_path)
    assert sorted(p.name for p in drawn) == ["adaptive.png", "fd_mnist.png"]
    assert all(p.parent == tmp_path / "figures" and p.stat().st_size > 0 for p in drawn)


def test_a_run_draws_them_at_its_end_and_report_draws_them_again(tiny_config, tmp_path):
    from thermogan.cli import main

    run = tmp_path / "run"
    assert main(["train", str(tiny_config), "--out", str(run), "train.steps=20",
                 "eval.snapshot_every=10"]) == 0
    figure = run / "figures" / "snapshots.png"
    assert figure.is_file()
    figure.unlink()
    assert main(["report", str(run), "--out", str(tmp_path / "compare.png")]) == 0
    assert figure.is_file()
