"""The variance of D's per-example gradients, for an optimizer that asks for it (an SGLD D with
covariance-controlled noise, METHODS.md §4).

An example of D's loss is a pair: a real sample and a generated one, with the loss
``real_term(D(x_i)) + fake_term(D(x̃_i))``, whose mean over the batch is D's adversarial loss
(the gradient penalty is left out of the estimate). The estimate is the optimizer's choice:
per-example gradients or micro-batch means (``optim/variance.py``). Per-example gradients of a D
made of linear layers (the toy MLPs) come from one backward pass (``linear_variance``); other
D's use ``torch.func``'s vmap.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from thermogan.errors import ConfigError
from thermogan.objectives.adversarial import AdversarialLoss
from thermogan.optim.variance import (
    by_parameter,
    check_no_batchnorm,
    linear_only,
    linear_variance,
    microbatch_variance,
    per_example_variance,
)


class PairD(nn.Module):
    """D on pairs: ``(B, 2, ...)`` samples (and ``(B, 2)`` labels) -> logits ``(B, 2)``."""

    def __init__(self, discriminator: nn.Module) -> None:
        super().__init__()
        self.D = discriminator

    def forward(self, pairs: Tensor, labels: Tensor | None = None) -> Tensor:
        b = pairs.shape[0]
        flat = pairs.flatten(0, 1)  # (2B, ...)
        out = self.D(flat) if labels is None else self.D(flat, labels.flatten())  # (2B, 1)
        return out.reshape(b, 2)


class DVariance:
    """Computes ``{parameter: V}`` for D's optimizer from one D step's pairs."""

    def __init__(self, discriminator: nn.Module, loss: AdversarialLoss, how: str = "per_example",
                 microbatches: int = 8, chunk: int | None = None) -> None:
        try:
            check_no_batchnorm(discriminator)
        except ValueError as err:
            raise ConfigError(f"optim.d: an SGLD D with covariance or ccadl noise needs "
                              f"per-example gradients, but the {err}; set "
                              "model.discriminator.norm: none (or use isotropic noise)") from None
        self.pairs, self.loss = PairD(discriminator), loss
        self.how, self.microbatches, self.chunk = how, microbatches, chunk
        self.fast = how == "per_example" and linear_only(discriminator)

    def _pair_loss(self, logits: Tensor) -> Tensor:
        return self.loss.real_term(logits[:, 0]) + self.loss.fake_term(logits[:, 1])  # (B,)

    def __call__(self, real: Tensor, fake: Tensor, real_y: Tensor | None = None,
                 fake_y: Tensor | None = None) -> dict[nn.Parameter, Tensor]:
        inputs = [torch.stack([real, fake], 1)]  # (B, 2, ...)
        if real_y is not None:
            inputs.append(torch.stack([real_y, fake_y], 1))  # (B, 2)
        n = len(inputs)
        if self.how == "microbatch":
            v = microbatch_variance(self.pairs, self._pair_loss, inputs, self.microbatches, n)
        elif self.fast:  # rows 2i and 2i + 1 of D's flattened input are example i
            v = linear_variance(self.pairs, self._pair_loss, inputs, n, group=2)
        else:
            v = per_example_variance(self.pairs, self._pair_loss, inputs, self.chunk, n)
        return by_parameter(self.pairs, v)

    @classmethod
    def for_optimizer(cls, discriminator: nn.Module, loss: AdversarialLoss,
                      optimizer: torch.optim.Optimizer) -> DVariance | None:
        """The estimator an optimizer asks for (``needs_variance``), or None."""
        if not getattr(optimizer, "needs_variance", False):
            return None
        return cls(discriminator, loss, optimizer.variance_from, optimizer.microbatches,
                   optimizer.chunk)
