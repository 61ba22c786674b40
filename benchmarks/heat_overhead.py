"""What heating the data adds to a training step (β-GAN), measured against the same step without.

Both variants train the ring-of-8 networks of configs/ring8_betagan.yaml (MLP 128x2, batch 256,
Adam) for the same number of steps; the heated one runs inside the cooling stage (Gaussian noise
and mirror reflection into the box on every real batch). Rounds alternate between the variants and
the median time per step is reported. Target: heated / plain <= 1.03.

Usage: python benchmarks/heat_overhead.py [--steps 1000] [--rounds 9] [--out bench-out]
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from timing import overhead_main, seconds_per_call

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
    overhead_main("heat_overhead", __doc__,
                  {"plain": partial(seconds_per_step, heated=False),
                   "heated": partial(seconds_per_step, heated=True)},
                  "ring of 8, batch 256, MLP 128x2", 1.03)


if __name__ == "__main__":
    main()
