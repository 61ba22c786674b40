"""A run that diverges is a result: in a shared step it leaves, and the other members go on as
their single runs; its summary.json says where; a sweep and a bench count it and leave it out of
their means (train/loop.py, experiment/runs.py, experiment/seeds.py, bench/engine.py)."""

import json
import math
import os
import pickle

import pytest
import torch
import yaml
from test_ensemble import _state

from thermogan.cli import main
from thermogan.data.batch import Batch
from thermogan.errors import DivergenceError
from thermogan.experiment import build, config, runs, seeds
from thermogan.train.ensemble import Stacked
from thermogan.train.loop import fit
from thermogan.train.members import Members

SEEDS = (0, 1, 2)
POISONED, AFTER = 1, 130  # member 1's data turns NaN at step 131


class PoisonedAfter:
    """Data that turns into NaN after ``n`` batches (the rest of it as the wrapped data's)."""

    def __init__(self, data, n):
        self.data, self.n, self.calls = data, n, 0

    def __getattr__(self, name):
        return getattr(self.data, name)

    def sample(self, n, generator=None, device=None):
        self.calls += 1
        batch = self.data.sample(n, generator, device)
        return Batch(batch.x * float("nan")) if self.calls > self.n else batch


def _trainers(tiny_config):
    cfg = config.load(tiny_config)
    return cfg, [build.build_trainer(cfg.model_copy(update={"seed": s})) for s in SEEDS]


def test_a_member_that_diverges_leaves_and_the_others_follow_their_single_runs(
        tiny_config, tmp_path):
    cfg, trainers = _trainers(tiny_config)
    trainers[POISONED].data = PoisonedAfter(trainers[POISONED].data, AFTER)
    members = Members(trainers)
    assert isinstance(members.nets, Stacked)  # the NaN member's slice is computed beside theirs
    dirs = [tmp_path / f"seed{s}" for s in SEEDS]
    for d in dirs:
        d.mkdir()
    diverged = fit(members, dirs, steps=300, config=[cfg.to_dict()] * 3, log_every=50,
                   checkpoint_every=100, progress=False, tensorboard=False)
    assert list(diverged) == [POISONED]
    err = diverged[POISONED]
    assert err.record["step"] == AFTER + 1 and math.isnan(err.record["value"])
    assert str(dirs[POISONED]) in str(err) and "latest.pt (step 100)" in str(err)
    for s, d in enumerate(dirs):
        logged = [json.loads(line)["step"] for line in (d / "metrics.jsonl").open()]
        latest = torch.load(d / "checkpoints" / "latest.pt", weights_only=True)
        if s == POISONED:  # its logs and checkpoints stop at its last good ones
            assert logged == [50, 100] and latest["step"] == 100
            assert latest["shared_with"] == [os.path.relpath(e, d) for e in dirs]
        else:
            assert logged == [50, 100, 150, 200, 250, 300] and latest["step"] == 300
    members.sync()
    _, singles = _trainers(tiny_config)
    for s in (0, 2):  # the others: their single runs up to rounding
        for _ in range(300):
            singles[s].train_step()
        for a, b in zip(_state(singles[s]), _state(trainers[s]), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)


def test_a_single_run_that_diverges_says_where_in_its_summary_and_fails(tiny_config, tmp_path,
                                                                        monkeypatch, capsys):
    """The CLI's run fails with the step (exit status 1); its folder records it, and a report of
    it says so instead of metrics."""
    real = build.build_trainer

    def poisoned(*args, **kwargs):
        trainer = real(*args, **kwargs)
        trainer.data = PoisonedAfter(trainer.data, AFTER)
        return trainer

    monkeypatch.setattr(runs, "build_trainer", poisoned)
    assert main(["train", str(tiny_config), "--out", str(tmp_path / "run")]) == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("thermogan: error:") and f"at step {AFTER + 1}" in err
    summary = runs.read_summary(tmp_path / "run")
    assert summary["diverged"]["step"] == AFTER + 1 and summary["diverged"]["loss"] == "d_loss"
    assert summary["metrics"] == {} and "provenance" in summary
    assert main(["report", str(tmp_path / "run"), "--html", str(tmp_path / "run.html")]) == 0
    assert f"diverged at step {AFTER + 1} (d_loss nan)" in capsys.readouterr().out
    assert f"d_loss became nan at step {AFTER + 1}" in (tmp_path / "run.html").read_text()
    # one that diverged before its first checkpoint has no weights, and says why
    assert main(["train", str(tiny_config), "--out", str(tmp_path / "early"),
                 "train.checkpoint_every=1000"]) == 1
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "early")]) == 1
    assert capsys.readouterr().err.strip() == (
        f"thermogan: error: {tmp_path / 'early'} diverged at step {AFTER + 1} (d_loss nan) "
        "before its first checkpoint: it holds no weights")


def test_a_sweep_counts_its_diverged_members_apart(tmp_path):
    def summary(modes):
        return {"metrics": {"modes": modes}, "protocol": {"samples": 10},
                "provenance": {"thermogan": "0"}}

    lost = {"diverged": {"step": 7, "loss": "d_loss", "value": math.nan}, "metrics": {},
            "protocol": {"dataset": "ring8", "step": 7, "note": "x"}, "provenance": {}}
    record = seeds.across([(tmp_path / "seed0", lost), (tmp_path / "seed1", summary(8)),
                           (tmp_path / "seed2", summary(6))])
    assert record["diverged"] == 1 and record["metrics"]["modes"]["mean"] == 7.0
    assert record["members"][0]["diverged"]["step"] == 7
    assert record["protocol"] == {"samples": 10}  # a finished member's
    assert seeds.across_line(record) == "3 seeds (1 diverged): modes 7.0 ± 1.0"


@pytest.mark.figures
def test_a_study_counts_a_method_that_diverges_and_scores_the_rest(tiny_config, tmp_path,
                                                                   capsys):
    """Two methods of one optimizer (SGLD on D) pack into one shared computation; one's rate
    makes every run diverge within a few steps: the table counts them and leaves their cells
    empty, the other row is scored, the figure shows where each diverged."""
    study = tmp_path / "study.yaml"
    sgd = "optim.d={kind: sgld, lr: 0.01, temperature: 0, noise: isotropic}"
    hot = "optim.d={kind: sgld, lr: 1.0e+4, temperature: 1, noise: isotropic}"
    study.write_text(yaml.safe_dump({
        "configs": str(tiny_config.parent), "datasets": ["ring8"], "seeds": 2, "steps": 40,
        "baseline": "SGD D", "paired": True, "figure": "points",
        "methods": {"SGD D": {"config": tiny_config.name, "overrides": [sgd]},
                    "too hot": {"config": tiny_config.name, "overrides": [hot]}}}))
    out = tmp_path / "out"
    assert main(["study", str(study), "--out", str(out), "--workers", "1"]) == 0
    printed = capsys.readouterr().out
    assert "4 of them in 1 shared computation(s) of 4 runs" in printed
    rows = {r["method"]: r for r in json.loads((out / "results.json").read_text())["summary"]}
    assert rows["too hot"]["diverged"] == 2 and rows["SGD D"]["diverged"] == 0
    assert math.isfinite(rows["SGD D"]["modes"])
    table = (out / "results.md").read_text()
    assert "| ring8 | too hot | 2 (2 diverged) | – | – | – | – |" in table
    assert "| ring8 | too hot | modes" not in table  # no statistics without a run
    assert "left out of the row's means and tests" in table
    for seed in (0, 1):
        lost = runs.read_summary(out / "runs" / "ring8" / "too_hot" / f"seed{seed}")
        assert lost["diverged"]["step"] < 10
    assert (out / "study.png").stat().st_size > 0


def test_divergence_error_carries_its_record():
    err = DivergenceError("g_loss became inf at step 3", 3, "g_loss", math.inf)
    assert err.record == {"step": 3, "loss": "g_loss", "value": math.inf}
    back = pickle.loads(pickle.dumps(err))  # as data-parallel replicas gather it
    assert str(back) == str(err) and back.record == err.record
