"""The contract of a Langevin optimizer: what the training step asks of an optimizer that
injects noise (``SGLD``, ``optim/sgld.py``), declared once.

- ``generator``: the stream its noise is drawn from; the trainer hands it the run's "optim.g" or
  "optim.d" stream (stacked members: a sequence of streams, one per member).
- ``variance``: how the gradient variance it needs is estimated (a ``VarianceEstimator``, a
  component of its own, ``optim/estimators.py``); when ``needs_variance``, the D step hands
  the estimate in with ``set_variance`` before each ``step``.
- ``noise_level(member)``: the noise its last step injected, for the log.

An optimizer is Langevin when it has these (``isinstance(opt, Langevin)``); any other optimizer
is stepped as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, runtime_checkable

import torch
from torch import Tensor

from thermogan.optim.estimators import VarianceEstimator


@runtime_checkable
class Langevin(Protocol):
    """An optimizer that injects noise (see the module docstring)."""

    generator: torch.Generator | Sequence[torch.Generator] | None
    variance: VarianceEstimator

    @property
    def needs_variance(self) -> bool:
        """Whether a step needs the gradient variance handed in first."""

    def set_variance(self, variance: Mapping[Tensor, Tensor]) -> None:
        """``{parameter: variance (its shape)}`` for the next step."""

    def noise_level(self, member: int | None = None) -> dict[str, float]:
        """The last step's injected noise (over all elements, or member ``member``'s slice)."""
