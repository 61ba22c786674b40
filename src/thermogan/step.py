"""What the parts of a training step hand each other: the record of a D step, and the contracts
of the parts that read it (players and G terms; controllers are in ``tempering/control.py``).

A training step runs: levels advance, D steps (each returns a ``DStep``), controllers observe the
last record, players update with D fixed, G steps with its adversarial loss plus weighted G terms.
The trainer wires these, but each part is usable in one's own loop: build a ``DStep`` from what
your D step saw and said, and hand it on.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor, nn

from thermogan.data.batch import Batch


class LossTerms(Protocol):
    """What a player reads of the adversarial loss (``objectives.adversarial.AdversarialLoss``):
    its name, whether its real term is monotone in the logit, and its per-example terms (B,)."""

    name: str
    monotone_real: bool

    def real_term(self, h: Tensor) -> Tensor: ...

    def fake_term(self, h: Tensor) -> Tensor: ...

    def g_term(self, h: Tensor) -> Tensor: ...


def discriminate(discriminator: nn.Module, x: Tensor, y: Tensor | None = None) -> Tensor:
    """D's logits (B, 1) for samples ``x``: ``D(x)``, or ``D(x, y)`` for a conditional D."""
    return discriminator(x) if y is None else discriminator(x, y)


@dataclass(frozen=True)
class DStep:
    """What one D step saw and said; every tensor is detached.

    ``real`` and ``fake``: the raw batches (data and G(z), with their labels); ``real_seen`` and
    ``fake_seen``: what D saw of them after the temperings; ``real_logits`` and ``fake_logits``:
    D's outputs on those (B,); ``loss``: D's loss. The trainer fills every field; in a loop of
    one's own, fill what the parts you use read (the lens and β'-GAN's coupling read ``real``,
    controllers the logits): ``DStep(Batch(x))`` is enough for the lens.
    """

    real: Batch
    fake: Batch | None = None
    real_seen: Tensor | None = None  # (B, ...)
    fake_seen: Tensor | None = None  # (B, ...)
    real_logits: Tensor | None = None  # (B,)
    fake_logits: Tensor | None = None  # (B,)
    loss: Tensor | None = None  # ()

    def summary(self) -> dict[str, Tensor]:
        """``d_summary`` of this step, as 0-dim tensors for the log."""
        return d_summary(self.loss, self.real_logits, self.fake_logits)


def d_summary(loss: Tensor, real_logits: Tensor, fake_logits: Tensor) -> dict[str, Tensor]:
    """D's loss, the mean logits on each side and E[sign D(real)] (the overfitting signal of
    adaptive augmentation, Karras et al. 2020) for the log, from logits (..., B): 0-dim tensors
    for one run's, (S,) for S members'."""
    return {"d_loss": loss, "d_real": real_logits.mean(-1), "d_fake": fake_logits.mean(-1),
            "d_real_sign": torch.sign(real_logits).mean(-1)}


@runtime_checkable
class Player(Protocol):
    """An extra trained part with its own optimizer (the lens, β'-GAN's coupling, a denoiser).

    After the D step(s) of every training step, ``update`` takes one step of the player with D
    fixed (it must change neither D's parameters nor their gradients) and returns losses to log
    (0-dim tensors). ``generator`` is the player's own seeded random stream. Its ``state_dict``
    is checkpointed under ``name`` and must hold everything an exact resume needs beyond the
    modules that a tempering already saves (e.g. the player's optimizer state).
    """

    name: str

    def check(self, loss: LossTerms) -> None:
        """Raise ConfigError when the player cannot work with ``loss`` (called once, up front)."""

    def update(self, d: DStep, discriminator: nn.Module, loss: LossTerms,
               generator: torch.Generator | None = None) -> dict[str, Tensor]: ...

    def state_dict(self) -> dict[str, Any]: ...

    def load_state_dict(self, state: dict[str, Any]) -> Any: ...


@runtime_checkable
class GTerm(Protocol):
    """A term added to G's loss, weighted by a schedule: ``loss_G += weight(step) · term``.

    ``__call__`` sees the generated batch of the G step (``fake.x`` carries G's graph), the record
    of the last D step and D, and returns a scalar to minimise. ``name`` labels it in the log.
    ``players()``: parts it trains alongside (a learned score), [] for most terms. A term that is
    an ``nn.Module`` is moved to the trainer's device. ``weight_minimum``: the least weight with
    a meaning (a schedule that goes lower is refused when the run is built).
    """

    name: str
    weight_minimum: float

    def players(self) -> list[Player]: ...

    def __call__(self, fake: Batch, d: DStep, discriminator: nn.Module) -> Tensor: ...
