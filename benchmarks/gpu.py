"""GPU benchmark (issue [10]): seed-ensemble speedup, and DCGAN steps per second with
``train.compile`` and ``train.amp`` at paper scale, on one CUDA device, in one command.

Stages, each the function of a CPU benchmark run on ``cuda`` (nothing is duplicated here):

1. ``ensemble``: ``benchmarks/ensemble.py``'s ``measure``: the ring-of-8 MLP config, a single run
   against seed ensembles of S = 1, 8, 32, 64 members (member-steps/s, speedup).
2. ``tan_mnist_gan``: ``benchmarks/precision.py``'s ``measure`` on ``configs/tan_mnist_gan.yaml``
   without its lens (DCGAN C = 64, 1 × 32 × 32, batch 64, non-saturating loss): float32, bf16
   autocast, compiled, compiled with bf16 (steps/s, speedup, seconds of the first steps, which
   hold the compilation).
3. ``va_cifar10_jsd``: the same for ``configs/va_cifar10_jsd.yaml`` without its score term
   (DCGAN C = 64, 3 × 32 × 32, z 128).
4. ``tan_mnist_wgangp``: ``configs/tan_mnist_wgangp.yaml`` without its lens (WGAN-GP, 5 critic
   steps), float32 and bf16 only: a gradient penalty refuses ``train.compile`` (no double
   backward through compiled code), and its pass stays in float32 under bf16.

The DCGAN stages train on random images of the data set's shape (the cost does not depend on the
pixels, and the machine needs no data). Time: a stage is skipped (and recorded as skipped) when it
would start with less than its allowance left of ``--budget`` seconds; the allowances are
estimates for an H100, most of them inductor's first compilation. Not yet run on a GPU when
written. Without CUDA it exits at once with one line and status 1.

Usage: python benchmarks/gpu.py [--budget 450] [--out bench-out]
Prints each stage's table and writes OUT/gpu.json: {"device": ..., "stages": {name: {"rows": [...],
"seconds": s} or {"skipped": reason}}}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import ensemble
import precision
import torch

#: Stage -> (seconds it is allowed, what it measures, how its rows print).
STAGES = {
    "ensemble": (60, lambda: ensemble.measure([1, 8, 32, 64], steps=100, rounds=3,
                                              device="cuda"), ensemble.table),
    "tan_mnist_gan": (150, lambda: precision.measure(
        "configs/tan_mnist_gan.yaml", "cuda", steps=50, rounds=3, warmup=3), precision.table),
    "va_cifar10_jsd": (150, lambda: precision.measure(
        "configs/va_cifar10_jsd.yaml", "cuda", steps=50, rounds=3, warmup=3, shape=(3, 32, 32),
        extra=("regulariser=null",)), precision.table),
    "tan_mnist_wgangp": (40, lambda: precision.measure(
        "configs/tan_mnist_wgangp.yaml", "cuda", steps=20, rounds=3, warmup=3,
        modes=("float32", "bf16")), precision.table),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=450.0, help="seconds for all stages")
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()
    if not torch.cuda.is_available():
        sys.exit("benchmarks/gpu.py: no CUDA device here (torch.cuda.is_available() is False); "
                 "run it on a machine with a GPU")
    device = torch.cuda.get_device_name()
    # float32's baseline: cuDNN convolutions use TF32 unless switched off (torch's default)
    tf32 = {"matmul": torch.backends.cuda.matmul.allow_tf32,
            "cudnn": torch.backends.cudnn.allow_tf32}
    print(f"{device}, torch {torch.__version__}, CUDA {torch.version.cuda}, "
          f"bf16 supported: {torch.cuda.is_bf16_supported()}, TF32 allowed: {tf32}")
    started, stages = time.perf_counter(), {}
    for name, (allowance, run, table) in STAGES.items():
        left = args.budget - (time.perf_counter() - started)
        if left < allowance:
            stages[name] = {"skipped": f"{left:.0f} s of the budget left, {allowance} s needed"}
            print(f"{name}: skipped ({stages[name]['skipped']})")
            continue
        begun = time.perf_counter()
        rows = run()
        stages[name] = {"rows": rows, "seconds": time.perf_counter() - begun}
        print(f"\n{name} ({stages[name]['seconds']:.0f} s)")
        print(table(rows))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "gpu.json"
    path.write_text(json.dumps({"device": device, "torch": torch.__version__,
                                "cuda": torch.version.cuda, "tf32": tf32, "budget_s": args.budget,
                                "seconds": time.perf_counter() - started, "stages": stages},
                               indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
