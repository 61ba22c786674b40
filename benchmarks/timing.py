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


def overhead_main(name: str, doc: str, variants: dict[str, Callable[[int], float]],
                  setting: str, target: float) -> None:
    """The command line of an A/B overhead benchmark: ``--steps``, ``--rounds``, ``--out``; times
    the two ``variants`` (baseline first) with ``median_ms_per_step``, prints their table and
    the ratio against ``target``, and writes OUT/<name>.json."""
    import argparse
    import json
    from pathlib import Path

    import torch

    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()

    ms = median_ms_per_step(variants, args.steps, args.rounds)
    base, other = variants
    ratio = ms[other] / ms[base]
    width = max(map(len, ms)) + 1
    print(f"{setting}; median of {args.rounds} rounds of {args.steps} steps; "
          f"{torch.get_num_threads()} threads")
    print(f"{'variant':<{width}} {'ms/step':>9}")
    for variant, value in ms.items():
        print(f"{variant:<{width}} {value:>9.3f}")
    print(f"{other} / {base} = {ratio:.3f}x (target <= {target})")
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / f"{name}.json"
    path.write_text(json.dumps(
        {"benchmark": name, "ms_per_step": ms, "ratio": ratio, "target": target,
         "steps": args.steps, "rounds": args.rounds, "threads": torch.get_num_threads(),
         "torch": torch.__version__}, indent=2) + "\n")
    print(f"wrote {path}")
