"""Run benchmark jobs on worker processes of one thread each, with a progress bar."""

from __future__ import annotations

import multiprocessing as mp
from collections.abc import Callable, Sequence
from typing import TypeVar

from tqdm.auto import tqdm

J = TypeVar("J")
R = TypeVar("R")


def _init_worker() -> None:
    import torch

    torch.set_num_threads(1)


def run_pool(fn: Callable[[J], R], jobs: Sequence[J], workers: int, desc: str) -> list[R]:
    """``fn`` over ``jobs`` on ``workers`` spawned processes; results in completion order."""
    ctx = mp.get_context("spawn")
    with ctx.Pool(workers, initializer=_init_worker) as pool:
        return list(tqdm(pool.imap_unordered(fn, jobs), total=len(jobs), unit="run", desc=desc,
                         dynamic_ncols=True))
