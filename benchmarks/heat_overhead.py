"""What heating the data adds to a training step (β-GAN), measured against the same step without.

Both variants train the ring-of-8 networks of configs/ring8_betagan.yaml (MLP 128x2, batch 256,
Adam) for the same number of steps; the heated one runs inside the cooling stage (Gaussian noise
and mirror reflection into the box on every real batch). Rounds alternate between the variants and
the median time per step is reported. Target: heated / plain <= 1.03.

Usage: python benchmarks/heat_overhead.py [--steps 1000] [--rounds 9] [--out bench-out]
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

import torch
from timing import median_ms_per_step, seconds_per_call

from thermogan.experiment import build, config

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "ring8_betagan.yaml"


def seconds_per_step(steps: int, heated: bool) -> float:
    overrides = ["device=cpu", f"train.steps={10 * steps}",
                 "tempering.fractions=[0.0, 1.0, 0.0]"]  # every step inside the cooling stage
    if not heated:
        overrides.append("tempering=null")
    trainer = build.build_trainer(config.load(CONFIG, overrides))
    trainer.step = 3 * steps  # mid-cooling: β ≈ 0.4, where reflection is busy
    return seconds_per_call(trainer.train_step, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=9)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()

    ms = median_ms_per_step({"plain": partial(seconds_per_step, heated=False),
                             "heated": partial(seconds_per_step, heated=True)},
                            args.steps, args.rounds)
    ratio = ms["heated"] / ms["plain"]
    print(f"ring of 8, batch 256, MLP 128x2; median of {args.rounds} rounds of {args.steps} "
          f"steps; {torch.get_num_threads()} threads")
    print(f"{'variant':<8} {'ms/step':>9}")
    for name, value in ms.items():
        print(f"{name:<8} {value:>9.3f}")
    print(f"heated / plain = {ratio:.3f}x (target <= 1.03)")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "heat_overhead.json").write_text(json.dumps(
        {"benchmark": "heat_overhead", "ms_per_step": ms, "ratio": ratio, "target": 1.03,
         "steps": args.steps, "rounds": args.rounds, "threads": torch.get_num_threads(),
         "torch": torch.__version__}, indent=2) + "\n")
    print(f"wrote {args.out / 'heat_overhead.json'}")


if __name__ == "__main__":
    main()
