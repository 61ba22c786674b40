"""A training process killed with SIGKILL and resumed gives bit-identical samples on CPU, with and
without the seams' parts: a tempering chain whose level is a controller, a player (the lens) and
a G term (the test parts of ``tests/plugins.py``, registered in each subprocess)."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch

from thermogan.experiment import runs
from thermogan.train.checkpoint import load_checkpoint

STEPS = ["train.steps=800", "train.checkpoint_every=100"]
SEAMS = ["tempering=[{kind: instance_noise, std: {kind: sign_tracker}}, "
         "{kind: lens, width: 8, blocks: 1, lr: 1.0e-3}]",
         "regulariser={kind: pull, weight: {kind: linear, start: 0.1, end: 0.0, "
         "steps: 640}}"]
TESTS = Path(__file__).resolve().parent
CLI = ("import sys; sys.path.insert(0, sys.argv.pop(1)); import plugins; "
       "from thermogan.cli import main; sys.exit(main())")


def thermogan(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-c", CLI, str(TESTS), *map(str, args)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, **kwargs)


def run(*args):
    proc = thermogan(*args)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err


@pytest.mark.parametrize("extra", [[], SEAMS], ids=["plain", "seams"])
def test_sigkill_then_resume_is_bit_identical(tiny_config, tmp_path, extra):
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    run("train", tiny_config, "--out", straight, *STEPS, *extra)

    proc = thermogan("train", tiny_config, "--out", killed, *STEPS, *extra)
    latest = killed / "checkpoints" / "latest.pt"
    deadline = time.time() + 120
    while not latest.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # let it train past the checkpoint, maybe into the next write
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    step_at_kill = load_checkpoint(latest)["step"]
    assert 0 < step_at_kill < 800, "the kill must land mid-run for this test to mean anything"

    run("train", "--resume", killed)
    import plugins  # noqa: F401  (the seams' test parts, registered here too to open the runs)

    a, b = (runs.open_run(d)[1].sample(1000, 11).numpy() for d in (straight, killed))
    assert a.shape == (1000, 2) and np.array_equal(a, b)
    sa = load_checkpoint(straight / "checkpoints" / "latest.pt")
    sb = load_checkpoint(latest)
    assert sa["step"] == sb["step"] == 800
    for key in ("generator", "discriminator", "generator_ema", "temperings"):
        for name, tensor in sa[key].items():
            assert torch.equal(tensor, sb[key][name]), f"{key}.{name}"
    if extra:  # the controller moved, and the lens's optimizer state came back identical
        assert sa["temperings"]["0.std.seen"].item() == 800
        for a, b in zip(sa["players"]["lens"]["optimizer"]["state"].values(),
                        sb["players"]["lens"]["optimizer"]["state"].values()):
            assert all(torch.equal(a[k], b[k]) for k in a)
    lines = Path(killed / "metrics.jsonl").read_text().splitlines()
    steps = [json.loads(line)["step"] for line in lines]
    assert steps == sorted(set(steps)) and steps[-1] == 800  # no duplicate lines after resume


def test_ctrl_c_saves_the_step_it_stopped_at_and_says_how_to_resume(tiny_config, tmp_path):
    run_dir = tmp_path / "run"
    proc = thermogan("train", tiny_config, "--out", run_dir, "train.steps=100000",
                     "train.log_every=50", "train.checkpoint_every=100000")
    log = run_dir / "metrics.jsonl"
    deadline = time.time() + 120
    while not (log.exists() and log.read_text()) and proc.poll() is None \
            and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130, err
    line = err.strip().splitlines()[-1]
    step = int(line.split("interrupted at step ")[1].split()[0])
    assert line.endswith(f"resume with `thermogan train --resume {run_dir}`")
    state = torch.load(run_dir / "checkpoints" / "latest.pt", weights_only=True)
    assert state["step"] == step >= 50  # saved at the interrupt, not at a periodic checkpoint
    run("train", "--resume", run_dir, f"train.steps={step + 10}")
    assert json.loads((run_dir / "summary.json").read_text())["protocol"]["step"] == step + 10
