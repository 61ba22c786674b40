"""What the discriminator sees: the base class of every tempering.

A tempering maps a batch to the batch that D sees at the trainer's current step. Its level lives in
a buffer, so a checkpoint carries it. Learned temperings (the lens of Tempered Adversarial
Networks) own parameters and an optimizer and take a step of their own between the D step and the
G step; fixed ones (heat, instance noise, blur) do nothing there.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from thermogan.objectives.adversarial import AdversarialLoss


class Tempering(nn.Module):
    """The identity tempering; subclasses override ``set_step``, ``forward`` and, if learned,
    ``update``."""

    #: Whether generated samples pass through the tempering too (instance noise, blur) or only
    #: the real ones (heat, lens).
    applies_to_fake: bool = False

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("level", torch.zeros(()))

    def set_step(self, step: int) -> None:
        """Move to the level that the schedules give at ``step``."""

    def forward(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        return x

    def update(self, real: Tensor, discriminator: nn.Module,
               adversarial: AdversarialLoss) -> dict[str, Tensor]:
        """The tempering's own step after D's, with D fixed (learned temperings, β'-GAN's
        coupling); ``real`` is the raw batch of the last D step. Returns losses to log."""
        return {}

    def describe(self) -> dict[str, float]:
        """Values for the progress bar and the log, e.g. the current stage and level."""
        return {}
