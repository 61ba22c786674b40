"""Instance noise (Sønderby et al. 2016; Arjovsky & Bottou 2017): the same Gaussian noise on real
and generated inputs of D, its std annealed to 0 (linearly by default). A baseline for β-GAN."""

from __future__ import annotations

import torch
from torch import Tensor

from thermogan.data.toy import ToyDataset
from thermogan.schedules import Linear, Schedule
from thermogan.tempering.base import Tempering


class InstanceNoise(Tempering):
    """x + N(0, std(step)²) on both sides of D."""

    applies_to_fake = True

    def __init__(self, std: Schedule):
        super().__init__()
        self.std = std
        self._std = std(0)

    def set_step(self, step: int) -> None:
        self._std = self.std(step)
        self.level.fill_(self._std)

    def forward(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        if self._std == 0:
            return x
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return x + self._std * noise

    def describe(self) -> dict[str, float]:
        return {"noise_std": self._std}


def instance_noise(total_steps: int, data: ToyDataset, std_start: float = 0.5,
                   std_end: float = 0.0, anneal_fraction: float = 0.8) -> InstanceNoise:
    """Noise std linear from ``std_start`` to ``std_end`` over ``anneal_fraction`` of the run."""
    if std_start < 0 or std_end < 0:
        raise ValueError(f"std_start={std_start!r}, std_end={std_end!r}: must be >= 0")
    if not 0 < anneal_fraction <= 1:
        raise ValueError(f"anneal_fraction={anneal_fraction!r}: must be in (0, 1]")
    return InstanceNoise(Linear(std_start, std_end, max(1, int(anneal_fraction * total_steps))))
