"""Timing shared by the benchmark scripts (run from the repository root: ``python
benchmarks/NAME.py`` puts this folder on the import path)."""

from __future__ import annotations

import time
from collections.abc import Callable


def seconds_per_call(fn: Callable[[], object], calls: int) -> float:
    """Mean wall-clock seconds of ``calls`` calls of ``fn``."""
    start = time.perf_counter()
    for _ in range(calls):
        fn()
    return (time.perf_counter() - start) / calls
