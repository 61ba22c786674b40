"""What the discriminator sees: the base class and contract of every tempering.

A tempering maps a batch to the batch D sees, at the level in force at the trainer's step.

Contract (what a loop of one's own must do; the trainer does exactly this):

1. ``t.set_step(step)`` before each training step: the level moves to its value at ``step``
   (a pure schedule of the step, or a controller's remembered value). The level also sits in the
   ``level`` buffer, so a checkpoint carries it.
2. ``t(x, generator=g)`` maps a batch (B, ...) to what D sees (same shape), drawing its noise
   from ``g``. Apply it to the sides it names in ``sides``: ``("real",)`` (heat, lens) or
   ``("real", "fake")`` (instance noise, blur). Several temperings apply in order, like optax's
   ``chain``.
3. D's loss must see ``t(x).detach()``: a learned tempering (the lens) is trained by its own
   player, not by D's loss. ``t.players()`` lists those players; call their ``update`` after the
   D step with D fixed (``thermogan.step.Player``).

The math of each tempering is a pure function of (x, noise, level) in its module; the class is
the shell that holds the level, its schedule and its state.
"""

from __future__ import annotations

from collections.abc import Hashable

import torch
from torch import Tensor, nn

from thermogan.step import Player

SIDES = ("real", "fake")


class Tempering(nn.Module):
    """The identity tempering; subclasses override ``set_step`` and ``forward``, and
    ``level_key``, ``describe`` and ``players`` where they have something to say."""

    #: The sides of D's input this tempering acts on: the real batch only, or both.
    sides: tuple[str, ...] = ("real",)

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("level", torch.zeros(()))

    def set_step(self, step: int) -> None:
        """Move to the level in force at ``step``."""

    def forward(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        return x

    def level_key(self, step: int) -> Hashable:
        """A key that changes exactly when a new temperature level starts (β-GAN's stages and
        levels): the EMA of G restarts and a snapshot is taken there. Constant by default."""
        return 0

    def describe(self) -> dict[str, float]:
        """Values for the progress bar and the log, e.g. the current stage and level."""
        return {}

    def players(self) -> list[Player]:
        """The players that train this tempering (the lens's optimizer, β'-GAN's coupling)."""
        return []
