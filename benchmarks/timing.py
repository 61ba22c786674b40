"""Timing shared by the benchmark scripts (run from the repository root: ``python
benchmarks/NAME.py`` puts this folder on the import path)."""

from __future__ import annotations

import time
from collections.abc import Callable


def seconds_per_call(fn: Callable[[], object], calls: int,
                     sync: Callable[[], object] | None = None) -> float:
    """Mean wall-clock seconds of ``calls`` calls of ``fn``. ``sync`` waits for queued work
    (``torch.cuda.synchronize`` on a GPU, where calls return before their kernels finish): it
    runs before the clock starts and before it stops."""
    if sync is not None:
        sync()
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    if sync is not None:
        sync()
    return (time.perf_counter() - start) / calls
