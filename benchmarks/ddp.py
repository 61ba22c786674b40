"""Data parallelism (torchrun, gloo) against one process on the same cores (issue [10]).

One run of ``configs/ring8_vanilla.yaml`` at a global batch of 256 and of 2048, trained
(a) by one process with 1 thread, (b) by one process with N threads, (c) by ``torchrun
--nproc_per_node=N`` with 1 thread per process (gloo all-reduce of the gradients). Steps per
second are read from the run's metrics.jsonl (the log lines after the first, so start-up and
the first steps are left out); the speedup is against (b), which uses the same cores.

Usage: python benchmarks/ddp.py [--procs 2] [--steps 3000] [--batches 256,2048] [--out bench-out]
Prints a table and writes OUT/ddp.json: {"rows": [{"batch": B, "mode": ..., "steps_per_s": x}]}.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "configs" / "ring8_vanilla.yaml"


def _steps_per_s(args: list[str], threads: int, steps: int, batch: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "run"
        overrides = [f"train.steps={steps}", f"train.batch_size={batch}",
                     f"train.log_every={steps // 5}", "train.progress=false",
                     "train.tensorboard=false", "eval.samples=500", "device=cpu"]
        env = {**os.environ, "OMP_NUM_THREADS": str(threads)}
        subprocess.run([*args, "train", str(CONFIG), "--out", str(out), *overrides], env=env,
                       check=True, capture_output=True, text=True)
        lines = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
        return statistics.median(line["steps_per_s"] for line in lines[1:])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--procs", type=int, default=2)
    parser.add_argument("--steps", type=int, default=3000)
    parser.add_argument("--batches", default="256,2048")
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()
    n = args.procs
    python = [sys.executable, "-m", "thermogan"]
    torchrun = [str(Path(sys.executable).with_name("torchrun")), "--standalone",
                f"--nproc_per_node={n}", "-m", "thermogan"]
    modes = {"1 process, 1 thread": (python, 1), f"1 process, {n} threads": (python, n),
             f"torchrun {n} processes × 1 thread": (torchrun, 1)}
    rows = []
    for batch in (int(b) for b in args.batches.split(",")):
        rates = {mode: _steps_per_s(cmd, threads, args.steps, batch)
                 for mode, (cmd, threads) in modes.items()}
        same_cores = rates[f"1 process, {n} threads"]
        for mode, rate in rates.items():
            rows.append({"batch": batch, "mode": mode, "steps_per_s": rate,
                         "vs_same_cores": rate / same_cores})
    print(f"Data parallelism, {CONFIG.name}, {args.steps} steps, {platform.processor() or 'cpu'}"
          f" ({os.cpu_count()} cores)\n")
    print("| global batch | how | steps/s | against 1 process on the same cores |")
    print("|---|---|---|---|")
    for row in rows:
        print(f"| {row['batch']} | {row['mode']} | {row['steps_per_s']:.0f} | "
              f"{row['vs_same_cores']:.2f}× |")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ddp.json").write_text(json.dumps(
        {"config": "configs/ring8_vanilla.yaml", "steps": args.steps, "procs": n, "rows": rows},
        indent=2))


if __name__ == "__main__":
    main()
