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

The math of each tempering is a pure function of (x, noise, level) in its module; the base class
holds the level (its schedule or controller, its value at the step, its log entry), so a
tempering writes its map and its label.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from thermogan.step import Player

if TYPE_CHECKING:
    from thermogan.tempering.control import Level

SIDES = ("real", "fake")


class Tempering(nn.Module):
    """The base of every tempering: it holds the level. ``level`` (a schedule or a controller)
    is kept under the attribute ``level_attr`` names (so a controller's state is checkpointed
    under that name); ``set_step`` moves ``value`` (and the ``level`` buffer) to its value at a
    step, and ``describe`` logs it as ``label``. A subclass writes its map (``forward``), its
    ``label`` and ``level_attr``, and overrides ``check``, ``level_key``, ``describe`` and
    ``players`` where it has something to say. Without a level: the identity."""

    #: The sides of D's input this tempering acts on: the real batch only, or both.
    sides: tuple[str, ...] = ("real",)
    #: The attribute that holds the level's source (its name in the checkpoint).
    level_attr: str = "source"
    #: The level's name in the log and the progress bar.
    label: str = "level"

    def __init__(self, level: Level | None = None) -> None:
        super().__init__()
        self.register_buffer("level", torch.zeros(()))
        self.has_level = level is not None
        if self.has_level:
            setattr(self, self.level_attr, level)
        self.at, self.value = 0, float(level(0)) if self.has_level else 0.0

    def set_step(self, step: int) -> None:
        """Move to the level in force at ``step`` (checked by ``check``)."""
        if self.has_level:
            value = float(getattr(self, self.level_attr)(step))
            self.at, self.value = step, self.check(value, step)
            self.level.fill_(self.value)

    def check(self, value: float, step: int) -> float:
        """The level ``value`` at ``step``, or ValueError when the map cannot take it."""
        return value

    def forward(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        return x

    def level_key(self, step: int) -> Hashable:
        """A key that changes exactly when a new temperature level starts (β-GAN's stages and
        levels): the EMA of G restarts and a snapshot is taken there. Constant by default."""
        return 0

    def describe(self) -> dict[str, float]:
        """Values for the progress bar and the log: the level in force, under ``label``."""
        return {self.label: self.value} if self.has_level else {}

    def players(self) -> list[Player]:
        """The players that train this tempering (the lens's optimizer, β'-GAN's coupling)."""
        return []
