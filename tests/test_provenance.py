"""Provenance: every summary.json, eval.json and checkpoint names the software and machine."""

import json
import re
import shutil
import subprocess

import numpy as np
import pytest
import torch

import thermogan
from thermogan import provenance as prov
from thermogan.cli import main
from thermogan.experiment import config, runs
from thermogan.train.checkpoint import load_checkpoint

needs_git = pytest.mark.skipif(shutil.which("git") is None, reason="git is not installed")


def check_record(record, device="cpu"):
    for key in ("thermogan", "torch", "numpy", "python", "device"):
        assert type(record[key]) is str, key  # plain types: a weights-only load reads them
    assert record["thermogan"] == thermogan.__version__
    assert record["torch"] == torch.__version__ and record["numpy"] == np.__version__
    assert re.fullmatch(r"\d+\.\d+\.\d+\S*", record["python"])
    assert record["device"] == device and record["threads"] == torch.get_num_threads()
    assert record["git_commit"] is None or re.fullmatch(r"[0-9a-f]{40}", record["git_commit"])
    assert record["git_dirty"] is None or isinstance(record["git_dirty"], bool)


def test_the_record_names_versions_device_and_threads():
    check_record(prov.provenance("cpu"))
    assert prov.provenance(torch.device("cpu"))["device"] == "cpu"


@needs_git
def test_the_git_commit_is_recorded_when_run_from_a_checkout():
    """The tests run from this repository's checkout, with the package imported from src/."""
    record = prov.provenance("cpu")
    assert re.fullmatch(r"[0-9a-f]{40}", record["git_commit"])
    assert isinstance(record["git_dirty"], bool)


def test_no_commit_outside_a_repository(tmp_path, monkeypatch):
    prov.git_state.cache_clear()
    monkeypatch.setattr(prov, "PACKAGE_DIR", tmp_path)
    record = prov.provenance("cpu")
    assert record["git_commit"] is None and record["git_dirty"] is None
    prov.git_state.cache_clear()


@needs_git
def test_no_commit_for_a_package_installed_inside_a_checkout(tmp_path, monkeypatch):
    """A package in a virtualenv's site-packages under a checkout is not that checkout's code."""
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    site = tmp_path / ".venv" / "site-packages" / "thermogan"
    site.mkdir(parents=True)
    (site / "__init__.py").write_text("")
    monkeypatch.setattr(prov, "PACKAGE_DIR", site)
    assert prov.provenance("cpu")["git_commit"] is None


def test_summary_eval_and_checkpoint_carry_the_record(tiny_config, tmp_path, capsys):
    cfg = config.load(tiny_config, ["train.steps=20", "train.checkpoint_every=10"])
    run_dir = tmp_path / "run"
    runs.start(cfg, run_dir)
    check_record(json.loads((run_dir / "summary.json").read_text())["provenance"])
    state = load_checkpoint(run_dir / "checkpoints" / "latest.pt")  # weights_only=True
    check_record(state["provenance"])
    assert main(["eval", str(run_dir), "--samples", "100"]) == 0
    check_record(json.loads((run_dir / "eval.json").read_text())["provenance"])
