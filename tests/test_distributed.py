"""Data parallelism (train/distributed.py): real torchrun jobs of 2 gloo processes against one
process, exact resume after SIGKILL, a sweep's members against their single runs, the replicas'
primitives on a 2-process group, and the refusals."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import yaml
from helpers import replica_primitives

from thermogan.cli import main
from thermogan.errors import ConfigError
from thermogan.experiment import build, config
from thermogan.train import distributed

ROOT = Path(__file__).resolve().parent.parent
TORCHRUN = Path(sys.executable).with_name("torchrun")
QUIET = ["train.progress=false", "train.tensorboard=false", "device=cpu"]


def _torchrun(args, cwd, nproc=2):
    scratch = Path(cwd) / "tmp"  # torchrun's own temporary folders, removed with the test's
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(scratch)}
    env.pop("WORLD_SIZE", None)
    done = subprocess.run([str(TORCHRUN), "--standalone", f"--nproc_per_node={nproc}",
                           "-m", "thermogan", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _state(run_dir, name="latest.pt"):
    return torch.load(Path(run_dir) / "checkpoints" / name, weights_only=True)


def _assert_same_tree(a, b, path=""):
    if isinstance(a, dict):
        assert a.keys() == b.keys(), path
        for k in a:
            _assert_same_tree(a[k], b[k], f"{path}/{k}")
    elif isinstance(a, (list, tuple)):
        for i, (u, v) in enumerate(zip(a, b, strict=True)):
            _assert_same_tree(u, v, f"{path}[{i}]")
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), path
    else:
        assert a == b, path


def test_two_processes_train_as_one_with_the_same_global_batch(tmp_path):
    """Each replica draws the whole batch and keeps half; averaged gradients then give the
    single process's update up to the order of floating-point sums."""
    args = [str(ROOT / "configs" / "ring8_vanilla.yaml"), "train.steps=30", "train.batch_size=64",
            "train.log_every=10", *QUIET]
    _torchrun(["train", *args, "--out", str(tmp_path / "two"), "train.tensorboard=true"],
              tmp_path)
    assert main(["train", *args, "--out", str(tmp_path / "one")]) == 0
    one, two = _state(tmp_path / "one"), _state(tmp_path / "two")
    # only the main replica writes: one events file of figures, not one per process
    assert len(list((tmp_path / "two").glob("events.*.figures"))) == 1
    assert len(two["rng_replicas"]) == 2 and "rng_replicas" not in one
    # Adam divides by the gradients' running scale, so rounding differences in small gradients
    # grow to a fraction of a step: the runs agree to within 2 % of how far the weights moved
    # (measured 0.6 %; a replica that trained on its own shard alone is off by the whole way)
    fresh = _fresh_networks()
    for key, start in (("generator", "G"), ("discriminator", "D"), ("generator_ema", "G")):
        for name, value in one[key].items():
            if name == "n_averaged":  # the EMA's count of averaged steps
                assert two[key][name] == value
                continue
            moved = (value - fresh[start][name.removeprefix("module.")]).abs().max()
            assert moved > 1e-4, f"{key}.{name}"  # the runs really trained
            assert (two[key][name] - value).abs().max() <= 0.02 * moved, f"{key}.{name}"
    # the main replica logs the losses averaged over the replicas: the whole batch's
    logs = [(tmp_path / run / "metrics.jsonl").read_text().splitlines() for run in ("one", "two")]
    assert len(logs[0]) == len(logs[1]) == 3
    for a, b in zip(*logs):
        a, b = yaml.safe_load(a), yaml.safe_load(b)
        assert a["d_loss"] == pytest.approx(b["d_loss"], rel=1e-4)
    # reading a run's weights never needs its process count: sample and eval in one process
    for run in ("one", "two"):
        assert main(["sample", str(tmp_path / run), "--n", "64", "--raw",
                     "--out", str(tmp_path / f"{run}.npy")]) == 0
    np.testing.assert_allclose(np.load(tmp_path / "two.npy"), np.load(tmp_path / "one.npy"),
                               atol=5e-3)  # the weights' difference above, through G
    assert main(["eval", str(tmp_path / "two"), "--samples", "200"]) == 0


def _fresh_networks(name="ring8_vanilla.yaml", overrides=()):
    cfg = config.load(ROOT / "configs" / name, [*QUIET, *overrides])
    trainer = build.build_trainer(cfg)
    return {"G": trainer.G.state_dict(), "D": trainer.D.state_dict()}


def _launch(args, cwd, nproc=2):
    """torchrun started, not waited for: in a session of its own (``_kill``)."""
    scratch = Path(cwd) / "tmp"
    scratch.mkdir(exist_ok=True)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "TMPDIR": str(scratch)}
    env.pop("WORLD_SIZE", None)
    return subprocess.Popen([str(TORCHRUN), "--standalone", f"--nproc_per_node={nproc}",
                             "-m", "thermogan", *args], cwd=cwd, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)


def _kill(launcher):
    """SIGKILL to the launcher's process group and to its workers', all at once: torchrun starts
    each worker in a session of its own, where a kill of the launcher alone leaves them
    training. Returns when every one of them is gone."""
    workers = [int(pid) for task in Path(f"/proc/{launcher.pid}/task").iterdir()
               for pid in (task / "children").read_text().split()]
    for group in (launcher.pid, *workers):
        os.killpg(group, signal.SIGKILL)
    launcher.communicate()
    deadline = time.time() + 30
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.time() < deadline:
        time.sleep(0.01)
    return workers


def test_replicas_stay_equal_and_resume_exactly_after_sigkill_and_a_sweep_member_is_its_run(
        tmp_path):
    """Two claims on one uninterrupted 2-process run (``whole``: seed 1; the launches are most
    of this file's time, so the two share it).

    Exact resume after SIGKILL, with a lens (a player with an optimizer), adaptive instance
    noise (per-replica streams, a controller that reads the whole batch's logits), an adaptive λ
    of variational annealing's score term and an SGLD D with its gradient variance: the
    replicas' weights are compared at every checkpoint (the run stops if they differ), and a run
    whose launcher and workers were killed with SIGKILL mid-run, resumed with `torchrun ...
    train --resume DIR`, ends bit-identical to ``whole`` (the controllers' running sums, the
    optimizers' state and every replica's random streams included).

    Each member of a sweep under torchrun is its single torchrun run: replicas of a shared
    computation, 2 seeds of the same config (the SGLD D's covariance noise from each replica's
    taps of its rows, averaged over the replicas as a single run's under torchrun; the lens
    with its own optimizer; the controllers) train stacked, each of 2 processes holding half of
    every member's batch; member seed 1 equals ``whole``, seed 1 trained alone by 2 processes,
    up to rounding."""
    steps = 30
    config_path = str(ROOT / "configs" / "ring8_langevin.yaml")
    overrides = [f"train.steps={steps}", "train.checkpoint_every=5", "train.batch_size=64",
                 "train.log_every=10",
                 "tempering=[{kind: lens, width: 16, blocks: 1}, {kind: instance_noise, "
                 "std: {kind: adaptive, images: 1000, start: 0.5}}]",
                 "regulariser={kind: score, weight: {kind: adaptive, hot: 0.5, images: 1000}}",
                 *QUIET]
    args = [config_path, *overrides, "seed=1"]
    whole, killed = tmp_path / "whole", tmp_path / "killed"
    _torchrun(["train", *args, "--out", str(whole)], tmp_path)
    launcher = _launch(["train", *args, "--out", str(killed)], tmp_path)
    latest = killed / "checkpoints" / "latest.pt"
    deadline = time.time() + 180
    while not latest.exists() and launcher.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    time.sleep(0.05)  # into the next steps, maybe the next checkpoint's write
    assert len(_kill(launcher)) == 2 and launcher.returncode == -signal.SIGKILL
    at_kill = _state(killed)["step"]
    assert 0 < at_kill < steps, "the kill must land mid-run for this test to mean anything"
    out = _torchrun(["train", "--resume", str(killed)], tmp_path).stdout
    assert out.count(f"resumed from step {at_kill} of {steps}") == 1  # by the main replica
    a, b = _state(whole), _state(killed)
    for key in ("step", "generator", "discriminator", "generator_ema", "temperings",
                "term_levels", "players", "g_optimizer", "d_optimizer"):
        _assert_same_tree(a[key], b[key], key)
    # every stream a replica draws from; numpy's and Python's global states are captured too,
    # but no run seeds or draws from them: they hold each process's own start, which differs
    # between the two runs
    for key in ("streams", "torch", "cuda"):
        _assert_same_tree([r[key] for r in a["rng_replicas"]],
                          [r[key] for r in b["rng_replicas"]], f"rng_replicas/{key}")
    logged = [yaml.safe_load(line)["step"]
              for line in (killed / "metrics.jsonl").read_text().splitlines()]
    assert logged == sorted(set(logged)) and logged[-1] == steps
    # a run of 2 processes resumes with 2, and says so
    assert main(["train", "--resume", str(killed), f"train.steps={steps + 2}"]) == 1

    # the sweep: seeds 0 and 1 as one ensemble, member seed1 against whole
    out = _torchrun(["train", config_path, "--seeds", "0-1", *overrides, "--out",
                     str(tmp_path / "sweep")], tmp_path).stdout
    assert out.count("training 2 runs as one ensemble") == 1  # the main process reports
    assert (tmp_path / "sweep" / "sweep.json").exists()
    member, alone = _state(tmp_path / "sweep" / "seed1"), _state(whole)
    assert len(member["rng_replicas"]) == 2 and member["step"] == alone["step"] == steps
    fresh = _fresh_networks("ring8_langevin.yaml", [*overrides, "seed=1"])
    for key, start in (("generator", "G"), ("discriminator", "D")):
        for name, value in alone[key].items():
            moved = (value - fresh[start][name]).abs().max()
            assert moved > 1e-4, f"{key}.{name}"  # the runs really trained
            # measured: at most 1e-4 of the way moved
            assert (member[key][name] - value).abs().max() <= 1e-3 * moved, f"{key}.{name}"
    for a, b in zip(member["players"]["lens"]["optimizer"]["state"].values(),
                    alone["players"]["lens"]["optimizer"]["state"].values(), strict=True):
        torch.testing.assert_close(a["exp_avg"], b["exp_avg"], rtol=1e-3, atol=1e-6)


def test_the_replicas_primitives_on_a_two_process_group(tmp_path):
    results = mp.Manager().dict()
    mp.spawn(replica_primitives, args=(str(tmp_path / "store"), results), nprocs=2)
    for rank in (0, 1):
        taken, weight, grad, mean, gathered, caught = results[rank]
        assert taken == [[4.0 * rank, 4.0 * rank + 1], [4.0 * rank + 2, 4.0 * rank + 3]]
        assert weight == [[1.5, 1.5]] and grad == [[1.0, 1.0]]
        assert mean == {"loss": 0.5, "other": 10.0}
        assert gathered == [{"rank": 0}, {"rank": 1}]
        assert caught is not None and "differ by up to 1" in caught


def test_outside_torchrun_nothing_changes(tmp_path):
    cfg = config.load(ROOT / "configs" / "ring8_vanilla.yaml", QUIET)
    trainer = build.build_trainer(cfg)
    before = {name: g.get_state() for name, g in trainer.rngs.items()}
    distributed.attach(trainer, cfg.seed)
    assert type(trainer.replicas) is distributed.Replicas and trainer.replicas.is_main
    assert all(torch.equal(g.get_state(), before[n]) for n, g in trainer.rngs.items())
    x = torch.ones(4, 2)
    assert trainer.replicas.take(x) is x


def test_a_batch_that_does_not_split_is_refused_before_joining(monkeypatch):
    monkeypatch.setenv("WORLD_SIZE", "2")
    cfg = config.load(ROOT / "configs" / "ring8_vanilla.yaml", [*QUIET, "train.batch_size=63"])
    with pytest.raises(ConfigError, match="batch_size=63 does not split into 2"):
        distributed.attach(build.build_trainer(cfg), cfg.seed)
    assert not dist.is_initialized()


def test_python_dash_m_thermogan_is_the_cli():
    done = subprocess.run([sys.executable, "-m", "thermogan", "--help"], capture_output=True,
                          text=True, timeout=60)
    assert done.returncode == 0 and "train" in done.stdout
