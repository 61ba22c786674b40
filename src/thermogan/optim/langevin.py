"""The contract of a Langevin optimizer: what the training step asks of an optimizer that
injects noise (``SGLD``, ``optim/sgld.py``), declared once.

- ``generator``: the stream its noise is drawn from; the trainer hands it the run's "optim.g" or
  "optim.d" stream (stacked members: a sequence of streams, one per member).
- ``variance``: how the gradient variance it needs is estimated (``VarianceEstimator``, a
  component of its own); when ``needs_variance``, the D step hands the estimate in with
  ``set_variance`` before each ``step``.
- ``noise_level(member)``: the noise its last step injected, for the log.

An optimizer is Langevin when it has these (``isinstance(opt, Langevin)``); any other optimizer
is stepped as it is.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal, Protocol, runtime_checkable

import torch
from torch import Tensor


@dataclass(frozen=True)
class VarianceEstimator:
    """How the D step estimates the per-example gradient variance (``train/dvariance.py``,
    ``optim/variance.py``): ``per_example`` (from D's own backward where its layers allow, else
    torch.func's per-example gradients, ``chunk`` examples at a time; None: the whole batch) or
    ``microbatch`` (from ``microbatches`` micro-batch means)."""

    kind: Literal["per_example", "microbatch"] = "per_example"
    microbatches: int = 8
    chunk: int | None = None

    def __post_init__(self) -> None:
        if self.kind not in ("per_example", "microbatch"):
            raise ValueError(f"variance={self.kind!r}: expected per_example or microbatch")
        if isinstance(self.microbatches, bool) or self.microbatches < 2:
            raise ValueError(f"microbatches={self.microbatches!r}: must be >= 2")
        if self.chunk is not None and self.chunk < 1:
            raise ValueError(f"chunk={self.chunk!r}: must be >= 1 (or null: the whole batch)")


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
