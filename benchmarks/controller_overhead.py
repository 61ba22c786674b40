"""What an adaptive temperature's controller adds to a training step (issue [11]).

The ring-of-8 networks of configs/ring8_vanilla.yaml (MLP 128x2, batch 256, Adam) with instance
noise at a fixed σ = 0.1, against the same with σ set by the ADA-style controller (observing
every D step, updating every 4, held at σ ≈ 0.1 by starting there with a tiny step so both
variants add the same noise). Rounds alternate between the variants and the median time per
step is reported. Target: adaptive / fixed <= 1.02.

Usage: python benchmarks/controller_overhead.py [--steps 1000] [--rounds 9] [--out bench-out]
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

import torch
from timing import median_ms_per_step, seconds_per_call

from thermogan.experiment import build, config

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "ring8_vanilla.yaml"
LEVELS = {"fixed": "0.1",
          "adaptive": "{kind: adaptive, hot: 1.0, start: 0.1, images: 1000000000}"}


def seconds_per_step(steps: int, variant: str) -> float:
    overrides = ["device=cpu", f"tempering={{kind: instance_noise, std: {LEVELS[variant]}}}"]
    trainer = build.build_trainer(config.load(CONFIG, overrides))
    return seconds_per_call(trainer.train_step, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()

    ms = median_ms_per_step({variant: partial(seconds_per_step, variant=variant)
                             for variant in LEVELS}, args.steps, args.rounds)
    ratio = ms["adaptive"] / ms["fixed"]
    print(f"ring of 8, batch 256, MLP 128x2, instance noise; median of {args.rounds} rounds of "
          f"{args.steps} steps; {torch.get_num_threads()} threads")
    print(f"{'variant':<9} {'ms/step':>9}")
    for name, value in ms.items():
        print(f"{name:<9} {value:>9.3f}")
    print(f"adaptive / fixed = {ratio:.3f}x (target <= 1.02)")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "controller_overhead.json").write_text(json.dumps(
        {"benchmark": "controller_overhead", "ms_per_step": ms, "ratio": ratio, "target": 1.02,
         "steps": args.steps, "rounds": args.rounds, "threads": torch.get_num_threads(),
         "torch": torch.__version__}, indent=2) + "\n")


if __name__ == "__main__":
    main()
