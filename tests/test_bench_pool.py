"""Where bench jobs run (``bench/pool.py``): a Ray cluster started here gives the process pool's
results and run directories; every bench takes ``--workers`` and ``--ray``; a missing Ray is one
line of error."""

import builtins
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from thermogan.bench import engine, pool, study
from thermogan.bench.pool import Executor
from thermogan.cli import main, parser
from thermogan.errors import ConfigError

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
MODES = study.read(study.packaged("modes.yaml"))
BENCHES = ("modes", "oscillation", "lens", "langevin", "annealing", "density")


def _layout(out: Path) -> list[str]:
    return sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())


@pytest.mark.figures  # Ray's workers draw their runs' figures: so must the pool's
def test_ray_gives_the_process_pools_results_and_run_directories(tmp_path):
    pytest.importorskip("ray", reason="Ray is an optional extra: pip install 'thermogan[ray]'")
    results, layouts, printer = {}, {}, builtins.print
    for name, executor in (("pool", Executor(1)), ("ray", Executor(1, ray="local"))):
        out = tmp_path / name
        # two units: the saturating GAN's two seeds as one ensemble, and one run on its own
        jobs = [*study.plan(MODES, study.Protocol(2, 30, ("vanilla (saturating)",), ("ring8",),
                                                  CONFIGS), out),
                *study.plan(MODES, study.Protocol(1, 30, ("vanilla (non-saturating)",),
                                                  ("ring8",), CONFIGS), out)]
        results[name] = engine.train(study.bench(MODES, "modes"), jobs, executor)
        layouts[name] = _layout(out)
    assert Executor(1, ray="local").describe() == "1 worker(s) on a local Ray"
    assert builtins.print is printer  # ray.init's replacement of print does not outlive the bench
    assert len(results["ray"]) == 3 and layouts["ray"] == layouts["pool"]
    assert any(path.endswith("summary.json") for path in layouts["ray"])
    for a, b in zip(results["pool"], results["ray"]):
        assert {k: v for k, v in a.items() if k not in ("wall_s", "samples", "data_points")} \
            == {k: v for k, v in b.items() if k not in ("wall_s", "samples", "data_points")}
        assert np.array_equal(a["samples"], b["samples"])


def test_a_ray_task_runs_in_the_drivers_folder_or_says_its_node_lacks_it(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # restored after the test: the task changes the folder
    with pytest.raises(ConfigError, match="does not see the working directory"):
        pool._task(abs, -1, str(tmp_path / "elsewhere"))
    (tmp_path / "shared").mkdir()
    assert pool._task(abs, -1, str(tmp_path / "shared")) == 1
    assert Path.cwd() == tmp_path / "shared"


def test_the_process_pools_workers_exit_on_their_own_and_start_on_one_thread(monkeypatch):
    """Terminated workers (exit code -SIGTERM) would skip their finalizers, and the semaphores
    they made (tqdm's lock) would be reported as leaked when the bench exits. Spawned workers
    load numpy's BLAS and OpenMP with one thread each, whatever this process's environment."""
    spawn, made = pool.mp.get_context("spawn"), []

    class Recording:
        def Pool(self, *args, **kwargs):  # noqa: N802  (multiprocessing's name)
            made.append(spawn.Pool(*args, **kwargs))
            return made[-1]

    monkeypatch.setattr(pool.mp, "get_context", lambda method: Recording())
    for name in pool.ONE_THREAD:  # as a user's shell has them: unset
        monkeypatch.delenv(name, raising=False)
    assert sorted(Executor(2).map(_environment, [-1, -2, 3], "x")) == [
        (n, dict(pool.ONE_THREAD)) for n in (1, 2, 3)]
    assert [worker.exitcode for worker in made[0]._pool] == [0, 0]
    assert not pool.ONE_THREAD.keys() & os.environ.keys()  # this process's left as it was


def _environment(n):
    """abs(n), and the thread settings the worker's libraries loaded with."""
    return abs(n), {name: os.environ.get(name) for name in pool.ONE_THREAD}


#: A bench's parent: two workers that would sleep for a minute each.
SLEEPERS = ("import time; from thermogan.bench.pool import Executor; "
            "Executor(2).map(time.sleep, [60, 60], 'x')")


def _children(pid):
    """The processes whose parent is ``pid`` (Linux's /proc)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # gone meanwhile
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="reads Linux's /proc")
def test_sigterm_to_the_bench_terminates_its_workers():
    """Killed with SIGTERM, a bench's parent takes its pool with it (it once left the workers
    training as orphans), and exits with status 143."""
    proc = subprocess.Popen([sys.executable, "-c", SLEEPERS], stderr=subprocess.DEVNULL)
    deadline = time.time() + 60
    while len(workers := _children(proc.pid)) < 2 and time.time() < deadline:
        time.sleep(0.05)
    assert len(workers) >= 2, "the pool's workers did not start"
    time.sleep(0.5)  # into the map's wait
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=30) == 143
    deadline = time.time() + 10
    while any(Path(f"/proc/{pid}").exists() for pid in workers) and time.time() < deadline:
        time.sleep(0.05)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


def test_one_worker_is_this_process_on_one_thread(monkeypatch):
    import torch

    def spawned(method):
        raise AssertionError("one worker spawns no process")

    monkeypatch.setattr(pool.mp, "get_context", spawned)
    before = torch.get_num_threads()
    seen = Executor(1).map(_threads, [0, 1], "x")
    assert seen == [1, 1] and torch.get_num_threads() == before


def _threads(_job):
    import torch

    return torch.get_num_threads()


def test_the_executor_describes_itself_and_refuses_no_workers():
    assert Executor(3).describe() == "3 worker(s)"
    with pytest.raises(ConfigError, match="workers 0: must be >= 1"):
        Executor(0)


@pytest.mark.parametrize("bench", BENCHES)
def test_every_bench_takes_workers_and_ray(bench):
    args = parser().parse_args(["bench", bench, "--workers", "3", "--ray", "10.0.0.5:6379"])
    assert (args.workers, args.ray) == (3, "10.0.0.5:6379")
    assert parser().parse_args(["bench", bench]).ray is None


def test_without_ray_the_cli_says_how_to_install_it(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "ray", None)  # `import ray` fails as when not installed
    out = tmp_path / "bench"
    assert main(["bench", "modes", "--ray", "local", "--out", str(out)]) == 2
    assert capsys.readouterr().err == \
        "thermogan: error: Ray is not installed: pip install 'thermogan[ray]'\n"
    assert not out.exists()  # refused before any planning or training
