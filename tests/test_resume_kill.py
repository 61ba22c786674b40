"""A training process killed with SIGKILL and resumed gives bit-identical samples on CPU, with
the seams' parts in it: a tempering chain whose level is a controller, a player (the lens) and
a G term (the test parts of ``tests/plugins.py``, registered in each subprocess); so does a
bench's pack of runs of different methods trained as one shared computation, also when the kill
comes while the pack writes its runs' checkpoints.

Only the runs that are killed or interrupted are processes of their own (a signal needs one);
the uninterrupted reference runs and the resumes run in this process, through the same
``thermogan.cli.main`` (one thread here too: conftest.py's ``torch.set_num_threads(1)``, and
OMP_NUM_THREADS=1 in the subprocesses), so each resume also starts from another process's files.
"""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch

from thermogan.bench import engine, packing, study
from thermogan.bench.engine import Job
from thermogan.bench.pool import Executor
from thermogan.cli import main
from thermogan.experiment import runs
from thermogan.train.checkpoint import load_checkpoint

STEPS = ["train.steps=500", "train.checkpoint_every=100"]
SEAMS = ["tempering=[{kind: instance_noise, std: {kind: sign_tracker}}, "
         "{kind: lens, width: 8, blocks: 1, lr: 1.0e-3}]",
         "regulariser={kind: pull, weight: {kind: linear, start: 0.1, end: 0.0, "
         "steps: 400}}"]
TESTS = Path(__file__).resolve().parent
CLI = ("import sys; sys.path.insert(0, sys.argv.pop(1)); import plugins; "
       "from thermogan.cli import main; sys.exit(main())")


def thermogan(*args, **kwargs):
    return subprocess.Popen([sys.executable, "-c", CLI, str(TESTS), *map(str, args)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"}, **kwargs)


def here(*args):
    """``thermogan ARGS`` in this process, with the seams' test parts registered."""
    import plugins  # noqa: F401  (registers them, as the subprocesses' CLI does)

    assert main([*map(str, args)]) == 0


def test_sigkill_then_resume_is_bit_identical(tiny_config, tmp_path):
    """The seams' parts on the tiny config: a run without them takes the same path, less theirs.
    The killed run is a process of its own; the straight run and the resume run here."""
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    here("train", tiny_config, "--out", straight, *STEPS, *SEAMS)

    proc = thermogan("train", tiny_config, "--out", killed, *STEPS, *SEAMS)
    latest = killed / "checkpoints" / "latest.pt"
    deadline = time.time() + 120
    while not latest.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)  # let it train past the checkpoint, maybe into the next write
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL
    step_at_kill = load_checkpoint(latest)["step"]
    assert 0 < step_at_kill < 500, "the kill must land mid-run for this test to mean anything"

    here("train", "--resume", killed)
    a, b = (runs.open_run(d)[1].sample(1000, 11).numpy() for d in (straight, killed))
    assert a.shape == (1000, 2) and np.array_equal(a, b)
    sa = load_checkpoint(straight / "checkpoints" / "latest.pt")
    sb = load_checkpoint(latest)
    assert sa["step"] == sb["step"] == 500
    for key in ("generator", "discriminator", "generator_ema", "temperings"):
        for name, tensor in sa[key].items():
            assert torch.equal(tensor, sb[key][name]), f"{key}.{name}"
    # the controller moved, and the lens's optimizer state came back identical
    assert sa["temperings"]["0.std.seen"].item() == 500
    for a, b in zip(sa["players"]["lens"]["optimizer"]["state"].values(),
                    sb["players"]["lens"]["optimizer"]["state"].values()):
        assert all(torch.equal(a[k], b[k]) for k in a)
    lines = Path(killed / "metrics.jsonl").read_text().splitlines()
    steps = [json.loads(line)["step"] for line in lines]
    assert steps == sorted(set(steps)) and steps[-1] == 500  # no duplicate lines after resume


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
    here("train", "--resume", run_dir, f"train.steps={step + 10}")  # in this process
    assert json.loads((run_dir / "summary.json").read_text())["protocol"]["step"] == step + 10


# -- a pack of runs of different methods (bench/packing.py) -----------------------------------

BENCH = study.bench(study.read(study.packaged("modes.yaml")), "modes")
METHODS = {"vanilla": (), "noise": ("tempering={kind: instance_noise, std_start: 0.3}",),
           "beta": ("data.box=[-1, 1]", "tempering={kind: heat, levels: 3, "
                    "fractions: [0.2, 0.6, 0.2]}")}
PACKED = ("train.steps=200", "train.checkpoint_every=25", "train.log_every=25",
          "eval.samples=200")
DRIVER = ("import sys; sys.path.insert(0, sys.argv.pop(1)); import test_resume_kill as t; "
          "t.train_pack(*sys.argv[1:])")


def pack_jobs(config, out, methods=METHODS, steps=PACKED):
    """A bench's jobs: one run of each method, seed 0, in ``out/<method>``. A study's runs
    checkpoint only at their end, so these carry the periodic checkpoints of a resumable run."""
    return [Job((("method", m),), 0, Path(config), (*METHODS[m], *steps, "seed=0"),
                Path(out) / m) for m in methods]


def train_pack(config, out):
    """The jobs trained as a bench trains them, in this process (``DRIVER`` runs it)."""
    engine.train(BENCH, pack_jobs(config, out), Executor(1))


def assert_same_runs(straight, again, steps):
    for a, b in zip(straight, again, strict=True):
        sa, sb = (load_checkpoint(runs.latest_checkpoint(j.run_dir)) for j in (a, b))
        assert sa["step"] == sb["step"] == steps
        for key in ("generator", "discriminator", "generator_ema", "temperings", "players"):
            _assert_equal_tree(sa[key], sb[key], f"{a.run_dir.name}: {key}")
        for job in (a, b):
            assert (job.run_dir / "summary.json").exists()
            assert not (job.run_dir / "checkpoints" / "pending.pt").exists()
        same = [runs.open_run(j.run_dir)[1].sample(500, 11) for j in (a, b)]
        assert torch.equal(*same), a.run_dir.name
        logged = [json.loads(line)["step"]
                  for line in (b.run_dir / "metrics.jsonl").read_text().splitlines()]
        assert logged == sorted(set(logged)) and logged[-1] == steps, a.run_dir.name


def _assert_equal_tree(a, b, where):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), where
        for key in a:
            _assert_equal_tree(a[key], b[key], f"{where}.{key}")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    else:
        assert a == b, where


def test_a_mixed_method_pack_killed_with_sigkill_resumes_bit_identically(tiny_config, tmp_path):
    straight = pack_jobs(tiny_config, tmp_path / "straight")
    assert [len(unit) for unit in packing.pack(straight).units] == [3]  # one shared computation
    engine.train(BENCH, straight, Executor(1))

    killed = pack_jobs(tiny_config, tmp_path / "killed")
    proc = subprocess.Popen([sys.executable, "-c", DRIVER, str(TESTS), str(tiny_config),
                             str(tmp_path / "killed")], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "OMP_NUM_THREADS": "1"})
    first = runs.latest_checkpoint(killed[0].run_dir)
    deadline = time.time() + 120
    while not first.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.1)  # into the next checkpoints, maybe while the pack writes them
    proc.send_signal(signal.SIGKILL)
    _, err = proc.communicate()
    assert proc.returncode == -signal.SIGKILL, err
    at_kill = [load_checkpoint(runs.latest_checkpoint(j.run_dir))["step"]
               for j in killed if runs.latest_checkpoint(j.run_dir).exists()]
    assert 0 < min(at_kill) < 200, "the kill must land mid-run for this test to mean anything"

    engine.train(BENCH, killed, Executor(1))  # the bench again: the pack resumes
    assert_same_runs(straight, killed, 200)


def test_a_pack_killed_while_writing_its_checkpoints_resumes_at_one_step(tiny_config, tmp_path):
    """The kill's two moments, made from a run that kept every checkpoint: during the first
    phase of the pack's first checkpoint (one run's state pending, none committed: every run
    starts again, its log too), and during the renames of its last (one run committed, the
    other's state pending: it is committed). Before the two phases, the runs resumed at two
    steps, each alone: not the pack's bits."""
    steps = ("train.steps=6", "train.checkpoint_every=3", "train.log_every=1",
             "train.keep_checkpoints=true", "eval.samples=200")
    methods = ("vanilla", "noise")
    straight = pack_jobs(tiny_config, tmp_path / "straight", methods, steps)
    engine.train(BENCH, straight, Executor(1))
    for name, files in (("first", [{"pending.pt": 3}, {}]),
                        ("renames", [{"latest.pt": 6}, {"latest.pt": 3, "pending.pt": 6}])):
        shutil.copytree(tmp_path / "straight", tmp_path / name)
        again = pack_jobs(tiny_config, tmp_path / name, methods, steps)
        for job, kept in zip(again, files):
            (job.run_dir / "summary.json").unlink()
            folder = job.run_dir / "checkpoints"
            (folder / "latest.pt").unlink()
            for file, step in kept.items():
                shutil.copy(folder / f"step_{step}.pt", folder / file)
        engine.train(BENCH, again, Executor(1))
        assert_same_runs(straight, again, 6)
