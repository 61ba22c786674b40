"""The variance of D's per-example gradients, for an optimizer that asks for it (an SGLD D with
covariance-controlled noise, docs/langevin.md).

An example of D's loss is a pair: a real sample and a generated one, with the loss
``real_term(D(x_i)) + fake_term(D(x̃_i))``, whose mean over the batch is D's adversarial loss
(the gradient penalty is left out of the estimate). The estimate is the optimizer's choice:
per-example gradients or micro-batch means (its ``VarianceEstimator``, ``optim/estimators.py``).
A D made of linear layers and embeddings (the toy MLPs, the conditional FC D) gets its
per-example variance from the D step's own forward and backward pass (:meth:`DVariance.watch`,
``optim.variance.Recorder``); other D's from ``torch.func``'s vmap.
"""

from __future__ import annotations

from contextlib import AbstractContextManager, nullcontext

import torch
from torch import Tensor, nn

from thermogan.errors import ConfigError
from thermogan.nets.packed import pack_size
from thermogan.objectives.adversarial import AdversarialLoss
from thermogan.optim.estimators import PerExample, VarianceEstimator
from thermogan.optim.langevin import Langevin
from thermogan.optim.variance import Recorder, by_parameter, check_no_batchnorm, recordable


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
    """Computes ``{parameter: V}`` for D's optimizer from one D step's pairs.

    ``penalised``: D's loss carries a gradient penalty, so D's gradient is not the mean of the
    pairs' gradients (the fast path then computes that mean itself).
    """

    def __init__(self, discriminator: nn.Module, loss: AdversarialLoss,
                 estimator: VarianceEstimator | None = None, penalised: bool = False) -> None:
        try:
            check_no_batchnorm(discriminator)
        except ValueError as err:
            raise ConfigError(f"optim.d: an SGLD D with covariance or ccadl noise needs "
                              f"per-example gradients, but the {err}; set "
                              "model.discriminator.norm: none (or use isotropic noise)") from None
        if pack_size(discriminator) > 1:
            raise ConfigError(f"optim.d: an SGLD D with covariance or ccadl noise takes the "
                              f"gradients of (real, generated) sample pairs, which a D judging "
                              f"packs of {pack_size(discriminator)} does not have; set "
                              "model.discriminator.packs=1 or optim.d.noise=isotropic")
        self.D, self.pairs, self.loss = discriminator, PairD(discriminator), loss
        self.estimator, self.penalised = estimator or PerExample(), penalised
        fast = isinstance(self.estimator, PerExample) and recordable(discriminator)
        self.recorder = Recorder(discriminator) if fast else None

    def watch(self) -> AbstractContextManager:
        """Wraps D's forward passes on the real and the generated batch (in that order) of a D
        step: the fast path records them, to take the variance from that step's backward."""
        return self.recorder if self.recorder is not None else nullcontext()

    def _pair_loss(self, logits: Tensor) -> Tensor:
        return self.loss.real_term(logits[:, 0]) + self.loss.fake_term(logits[:, 1])  # (B,)

    def __call__(self, real: Tensor, fake: Tensor, real_y: Tensor | None = None,
                 fake_y: Tensor | None = None) -> dict[nn.Parameter, Tensor]:
        """After D's backward: the variance over the pairs (real_i, fake_i)."""
        if self.recorder is not None:  # D's loss is the mean over B pairs: scale its gradients
            means = None if self.penalised else {
                n: p.grad for n, p in self.D.named_parameters() if p.grad is not None}
            return by_parameter(self.D, self.recorder.variance(len(real), len(real),
                                                               means=means))
        inputs = [torch.stack([real, fake], 1)]  # (B, 2, ...)
        if real_y is not None:
            inputs.append(torch.stack([real_y, fake_y], 1))  # (B, 2)
        return by_parameter(self.pairs, self.estimator(self.pairs, self._pair_loss, inputs,
                                                       len(inputs)))

    @classmethod
    def for_optimizer(cls, discriminator: nn.Module, loss: AdversarialLoss,
                      optimizer: torch.optim.Optimizer,
                      penalised: bool = False) -> DVariance | None:
        """The estimator a Langevin optimizer asks for (``needs_variance``), or None."""
        if not (isinstance(optimizer, Langevin) and optimizer.needs_variance):
            return None
        return cls(discriminator, loss, optimizer.variance, penalised)
