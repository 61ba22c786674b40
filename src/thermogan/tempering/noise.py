"""Instance noise (Sønderby et al. 2016; Arjovsky & Bottou 2017): the same Gaussian noise on real
and generated inputs of D, its std annealed to 0 (linearly by default). A baseline for β-GAN.

Math: ``x + std · ε``, ε ~ N(0, I) (``noised``). The std is a schedule of the step or a
controller (``tempering/control.py``).
"""

from __future__ import annotations

import math
from typing import Any

import torch
from torch import Tensor

from thermogan.schedules import Hold, Linear
from thermogan.tempering.base import Tempering
from thermogan.tempering.control import Level, level_source


def noised(x: Tensor, noise: Tensor, std: float | Tensor) -> Tensor:
    """``x + std · noise``: the instance-noise map for standard normal ``noise`` of x's shape."""
    return x + std * noise


class InstanceNoise(Tempering):
    """x + N(0, std(step)²) on both sides of D; ``std`` is a schedule or a controller."""

    sides = ("real", "fake")
    level_attr, label = "std", "noise_std"

    def __init__(self, std: Level):
        super().__init__(std)

    def forward(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        if self.value == 0:
            return x
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return noised(x, noise, self.value)

    @classmethod
    def for_run(cls, total_steps: int, data: Any, std_start: float = 0.5, std_end: float = 0.0,
                anneal_fraction: float = 0.8,
                std: float | dict[str, Any] | None = None) -> InstanceNoise:
        """Noise std linear from ``std_start`` to ``std_end`` over ``anneal_fraction`` of the run
        (config ``tempering: {kind: instance_noise}``); ``std`` (a number, a schedule or a
        controller) replaces that line. An adaptive std (``{kind: adaptive}``) runs between 0 and
        ``std_start`` and, unless it names its own ``ceiling``, is held at 0 from where the line
        would end (``anneal_fraction``), so that the run still ends on clean data."""
        if std_start < 0 or std_end < 0:
            raise ValueError(f"std_start={std_start!r}, std_end={std_end!r}: must be >= 0")
        if not 0 < anneal_fraction <= 1:
            raise ValueError(f"anneal_fraction={anneal_fraction!r}: must be in (0, 1]")
        anneal_steps = max(1, int(anneal_fraction * total_steps))
        if std is not None:  # an adaptive std: between 0 and std_start, clean where the line is
            return cls(level_source(std, "tempering.std", minimum=0.0, hot=std_start, cold=0.0,
                                    ceiling=Hold(anneal_steps, math.inf, 0.0)))
        return cls(Linear(std_start, std_end, anneal_steps))
