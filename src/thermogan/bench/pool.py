"""Run benchmark jobs on worker processes of one thread each, or as Ray tasks, with a progress
bar.

An :class:`Executor` runs a bench's jobs: by default on ``workers`` spawned processes of this
machine (one thread each: torch's, numpy's BLAS and OpenMP's), or, given ``ray``, as Ray tasks
of one CPU each on a cluster (``"local"`` starts one on this machine, its node at 127.0.0.1,
with ``workers`` CPUs; any other address, ``auto`` included, is handed to ``ray.init`` to
connect to a running cluster, whose CPUs then set how many jobs run at once). One worker is
this process itself, on one thread. Either way the results are the same and the jobs write the
same run directories.

A Ray task runs in this process's working directory, so relative paths (configs, ``--out``)
mean what they mean here: every node of a remote cluster must see that directory at the same
path (a shared filesystem), its data folder (the node's own ``$THERMOGAN_DATA``, else its cache
folder) must hold the data, and thermogan must be installed there; a task on a node that does not
see the directory fails with a ConfigError that says so.
"""

from __future__ import annotations

import builtins
import logging
import multiprocessing as mp
import os
import signal
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar
from unittest import mock

from tqdm.auto import tqdm

from thermogan.errors import ConfigError
from thermogan.train.interrupt import handled

J = TypeVar("J")
R = TypeVar("R")


@dataclass(frozen=True)
class Executor:
    """Where a bench's jobs run (see the module docstring); a ``"local"`` Ray cluster is started
    for the bench and shut down after it."""

    workers: int = 2
    ray: str | None = None

    def __post_init__(self) -> None:
        if self.workers < 1:
            raise ConfigError(f"workers {self.workers}: must be >= 1")
        if self.ray is not None:
            _import_ray()  # a missing extra fails before any training

    def describe(self) -> str:
        """For a bench's table header: "2 worker(s)", "2 worker(s) on a local Ray", "Ray at
        ADDRESS"."""
        if self.ray is None:
            return f"{self.workers} worker(s)"
        if self.ray == "local":
            return f"{self.workers} worker(s) on a local Ray"
        return f"Ray at {self.ray}"

    def map(self, fn: Callable[[J], R], jobs: Sequence[J], desc: str) -> list[R]:
        """``fn`` over ``jobs``, results in completion order; ``fn`` must be a module-level
        function of an installed module (workers import it by name)."""
        if not jobs:  # no worker to start
            return []
        bar = tqdm(total=len(jobs), unit="job", desc=desc, dynamic_ncols=True)
        with bar:
            if self.ray is None:
                return _on_processes(fn, jobs, self.workers, bar)
            return _on_ray(fn, jobs, self.ray, self.workers, bar)


def _import_ray() -> Any:
    try:
        import ray
    except ImportError:
        raise ConfigError("Ray is not installed: pip install 'thermogan[ray]'") from None
    return ray


#: The thread pools a worker's libraries read from the environment as they load (numpy's BLAS,
#: OpenMP, MKL), before any initializer runs: a spawned worker has one thread in each, as torch's
ONE_THREAD = {name: "1" for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS")}


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def _exit_on_sigterm(signum: int, frame: Any) -> None:
    """SIGTERM as SystemExit (status 143), so that the pool is terminated with this process,
    not left training as orphans."""
    raise SystemExit(128 + signum)


def _on_processes(fn: Callable[[J], R], jobs: Sequence[J], workers: int, bar: tqdm) -> list[R]:
    if workers == 1:  # one worker: this process, on one thread, without spawning another
        return _in_process(fn, jobs, bar)
    results = []
    with mock.patch.dict(os.environ, ONE_THREAD):  # the workers copy it as they start
        pool = mp.get_context("spawn").Pool(workers, initializer=_init_worker)
    try:
        with handled(signal.SIGTERM, _exit_on_sigterm):  # in the main thread
            for result in pool.imap_unordered(fn, jobs):
                results.append(result)
                bar.update()
        pool.close()  # the workers exit on their own, releasing their semaphores (tqdm's
    except BaseException:  # lock); terminated, they would leave them to be reported as leaked
        pool.terminate()
        raise
    finally:
        pool.join()
    return results


def _in_process(fn: Callable[[J], R], jobs: Sequence[J], bar: tqdm) -> list[R]:
    import torch

    threads = torch.get_num_threads()
    _init_worker()
    try:
        results = []
        for job in jobs:
            results.append(fn(job))
            bar.update()
        return results
    finally:
        torch.set_num_threads(threads)


def _task(fn: Callable[[J], R], job: J, cwd: str) -> R:
    """One job on a Ray worker: in the driver's working directory, on one thread."""
    if not os.path.isdir(cwd):
        raise ConfigError(f"Ray node {socket.gethostname()} does not see the working directory "
                          f"{cwd}: the cluster must share this machine's filesystem")
    os.chdir(cwd)
    _init_worker()
    return fn(job)


def _on_ray(fn: Callable[[J], R], jobs: Sequence[J], address: str, workers: int,
            bar: tqdm) -> list[R]:
    ray = _import_ray()
    # "local" always starts a new cluster (ray.init's own meaning of the word), its node at
    # 127.0.0.1 (Ray's own servers may still listen on every interface); a running cluster's
    # CPUs are its own
    here = {"num_cpus": workers, "_node_ip_address": "127.0.0.1"} if address == "local" else {}
    printer = builtins.print
    ray.init(address=address, include_dashboard=False, logging_level=logging.ERROR, **here)
    try:
        task = ray.remote(num_cpus=1)(_task)
        pending = [task.remote(fn, job, os.getcwd()) for job in jobs]
        results = []
        try:
            while pending:
                done, pending = ray.wait(pending, num_returns=1)
                try:
                    results.append(ray.get(done[0]))
                except ray.exceptions.RayTaskError as error:  # the job's own exception, as
                    raise error.cause from error               # the process pool raises it
                bar.update()
        finally:
            for ref in pending:  # a failed job stops the others, on a shared cluster too
                ray.cancel(ref)
        return results
    finally:
        ray.shutdown()  # stops a cluster started here; disconnects from any other
        builtins.print = printer  # ray.init swaps print for its own and leaves it there
