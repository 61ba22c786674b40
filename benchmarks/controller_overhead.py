"""What an adaptive temperature's controller adds to a training step (issue [11]).

The ring-of-8 networks of configs/ring8_vanilla.yaml (MLP 128x2, batch 256, Adam) with instance
noise at a fixed σ = 0.1, against the same with σ set by the ADA-style controller (observing
every D step, updating every 4, held at σ ≈ 0.1 by starting there with a tiny step so both
variants add the same noise). Rounds alternate between the variants and the median time per
step is reported. Target: adaptive / fixed <= 1.02.

Usage: python benchmarks/controller_overhead.py [--steps 1000] [--rounds 9] [--out bench-out]
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

from timing import overhead_main, seconds_per_call

from thermogan.experiment import build, config

CONFIG = Path(__file__).resolve().parents[1] / "configs" / "ring8_vanilla.yaml"
LEVELS = {"fixed": "0.1",
          "adaptive": "{kind: adaptive, hot: 1.0, start: 0.1, images: 1000000000}"}


def seconds_per_step(steps: int, variant: str) -> float:
    overrides = ["device=cpu", f"tempering={{kind: instance_noise, std: {LEVELS[variant]}}}"]
    trainer = build.build_trainer(config.load(CONFIG, overrides))
    return seconds_per_call(trainer.train_step, steps)


def main() -> None:
    overhead_main("controller_overhead", __doc__,
                  {variant: partial(seconds_per_step, variant=variant) for variant in LEVELS},
                  "ring of 8, batch 256, MLP 128x2, instance noise", 1.02)


if __name__ == "__main__":
    main()
