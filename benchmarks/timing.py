"""Timing shared by the benchmark scripts (run from the repository root: ``python
benchmarks/NAME.py`` puts this folder on the import path)."""

from __future__ import annotations

import statistics
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


def median_ms_per_step(variants: dict[str, Callable[[int], float]], steps: int,
                       rounds: int) -> dict[str, float]:
    """Milliseconds per step of each variant, where ``variants[name](n)`` runs n steps and
    returns the seconds per step: a warm-up of 100 steps each, then ``rounds`` rounds that
    alternate between the variants (so drifts of the machine touch them all alike), the median
    of each variant's rounds."""
    for fn in variants.values():
        fn(100)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(rounds):
        for name, fn in variants.items():
            times[name].append(fn(steps))
    return {name: 1e3 * statistics.median(values) for name, values in times.items()}
