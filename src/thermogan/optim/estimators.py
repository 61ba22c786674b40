"""How a Langevin optimizer's gradient variance is estimated: a component of its own, chosen by
``optim.d.variance: {kind, ...}`` (docs/langevin.md).

An estimator maps (model, per-example loss, inputs) to ``{parameter name: V}``, the unbiased
diagonal variance of one example's gradient (``optim/variance.py`` holds the math):

- ``per_example`` (the default): per-example gradients, from D's own backward where its layers
  allow (``optim.variance.Recorder``, ``train/dvariance.py``), else torch.func's, ``chunk``
  examples at a time (null: the whole batch at once);
- ``microbatch``: from the gradients of ``microbatches`` micro-batch means (fewer backward
  passes, a noisier estimate).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import ClassVar, Protocol

from torch import Tensor, nn

from thermogan.optim.variance import LossFn, microbatch_variance, per_example_variance


class VarianceEstimator(Protocol):
    """The contract: ``{parameter name: V}`` over the batch of ``inputs``, whose first
    ``model_inputs`` entries go to ``model`` and the rest to ``loss_fn``; ``kind``: its name in
    the registry."""

    kind: ClassVar[str]

    def __call__(self, model: nn.Module, loss_fn: LossFn, inputs: Sequence[Tensor],
                 model_inputs: int = 1) -> dict[str, Tensor]: ...


@dataclass(frozen=True)
class PerExample:
    """Per-example gradients, ``chunk`` examples at a time (None: the whole batch)."""

    kind: ClassVar[str] = "per_example"
    chunk: int | None = None

    def __post_init__(self) -> None:
        if self.chunk is not None and (isinstance(self.chunk, bool) or self.chunk < 1):
            raise ValueError(f"chunk={self.chunk!r}: must be >= 1 (or null: the whole batch)")

    def __call__(self, model: nn.Module, loss_fn: LossFn, inputs: Sequence[Tensor],
                 model_inputs: int = 1) -> dict[str, Tensor]:
        return per_example_variance(model, loss_fn, inputs, self.chunk, model_inputs)


@dataclass(frozen=True)
class Microbatch:
    """The gradients of ``microbatches`` micro-batch means."""

    kind: ClassVar[str] = "microbatch"
    microbatches: int = 8

    def __post_init__(self) -> None:
        if isinstance(self.microbatches, bool) or self.microbatches < 2:
            raise ValueError(f"microbatches={self.microbatches!r}: must be >= 2")

    def __call__(self, model: nn.Module, loss_fn: LossFn, inputs: Sequence[Tensor],
                 model_inputs: int = 1) -> dict[str, Tensor]:
        return microbatch_variance(model, loss_fn, inputs, self.microbatches, model_inputs)


#: ``optim.<g|d>.variance: {kind, ...}``; ``thermogan list`` prints them with their options.
VARIANCE_ESTIMATORS: dict[str, type[PerExample] | type[Microbatch]] = {
    estimator.kind: estimator for estimator in (PerExample, Microbatch)}
