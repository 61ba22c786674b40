"""Run benchmark jobs on worker processes of one thread each, with a progress bar, after
checking the plan."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Protocol, TypeVar

from tqdm.auto import tqdm

J = TypeVar("J")
R = TypeVar("R")


class Planned(Protocol):
    """What a bench's job says of its run: a config file, overrides, a run directory."""

    config: Path
    overrides: tuple[str, ...]
    run_dir: Path


def check_plan(jobs: Sequence[Planned]) -> None:
    """Fail before any training when a job's overrides, components or options are bad, or its
    run directory holds a run of another config (``runs.check_reusable``)."""
    from thermogan.experiment import config, runs
    from thermogan.experiment.build import check_components

    for job in jobs:
        cfg = config.load(job.config, list(job.overrides))
        check_components(cfg)
        runs.check_reusable(cfg, job.run_dir)


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def run_pool(fn: Callable[[J], R], jobs: Sequence[J], workers: int, desc: str) -> list[R]:
    """``fn`` over ``jobs`` on ``workers`` spawned processes; results in completion order."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers, initializer=_init_worker) as pool:
        return list(tqdm(pool.imap_unordered(fn, jobs), total=len(jobs), unit="run", desc=desc,
                         dynamic_ncols=True))
