"""Adversarial losses as per-example functions of discriminator logits h (D = sigmoid(h) where it
applies).

Each loss has three terms, each mapping logits (B,) or (B, 1) to a (B,) tensor, all minimised:
D's term on real samples, D's term on generated ones, and G's term on generated ones. The
discriminator loss is ``mean(real_term) + mean(fake_term)``, the generator loss ``mean(g_term)``.

- ``minimax`` (Goodfellow et al. 2014; the unmodified β-GAN loss): real −log D(x), fake
  −log(1 − D(G(z))); G: log(1 − D(G(z))) (saturating).
- ``nonsaturating``: same D terms; G: −log D(G(z)).
- ``lsgan`` (Mao et al. 2017, labels a=0, b=c=1): real ½(h − 1)², fake ½h²; G: ½(h − 1)².
- ``wgan`` / ``wgan-gp`` (Arjovsky et al. 2017; Gulrajani et al. 2017): real −h, fake h; G: −h.
  ``wgan-gp`` adds WGAN-GP's gradient penalty of weight 10 by default
  (``objectives/penalties.py``; ``objective.penalty`` chooses another).
- ``hinge`` (Lim & Ye 2017): real relu(1 − h), fake relu(1 + h); G: −h.
- ``rkl`` (variational annealing, Tao et al. 2019): D = −exp(h), V = E_μ[D(x)] + E_ρ[log(−D(x'))]
  = −E_μ[e^{h_r}] + E_ρ[h_f]; D maximises V (real term e^h, fake term −h), G minimises it (h).

log D = −softplus(−h) and log(1 − D) = −softplus(h), so the sigmoid losses stay finite for any
logit. Parts that move data towards what D calls fake reuse these terms: the lens of Tempered
Adversarial Networks minimises the fake term on the lensed data, β'-GAN's coupling ascends the
real term on heated data (``monotone_real`` says whether that makes sense for a loss).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from thermogan.errors import unknown_key
from thermogan.objectives.penalties import WGANGP, Penalty

Term = Callable[[Tensor], Tensor]


def _flat(h: Tensor) -> Tensor:
    return h.reshape(h.shape[0])  # (B, 1) or (B,) -> (B,)


@dataclass(frozen=True)
class AdversarialLoss:
    """A named set of per-example terms on logits, and its default gradient penalty (None: none).

    ``monotone_real``: D's real term decreases (or, for ``rkl``, increases) monotonically in the
    logit, so ascending it moves D's verdict on a sample towards "fake"; False for LSGAN, whose
    real term has its minimum at h = 1 and can be ascended in either direction.
    """

    name: str
    real: Term
    fake: Term
    gen: Term
    penalty: Penalty | None = None
    monotone_real: bool = True

    def penalty_in_effect(self, chosen: Penalty | None) -> Penalty | None:
        """The gradient penalty a run of this loss takes: ``chosen``, or the loss's own when
        None; None when its weight is 0."""
        penalty = self.penalty if chosen is None else chosen
        return penalty if penalty is not None and penalty.weight else None

    def real_term(self, h: Tensor) -> Tensor:
        """D's loss on each real sample (B,), from its logits (B,) or (B, 1)."""
        return self.real(_flat(h))

    def fake_term(self, h: Tensor) -> Tensor:
        """D's loss on each generated sample (B,)."""
        return self.fake(_flat(h))

    def g_term(self, h: Tensor) -> Tensor:
        """G's loss on each generated sample (B,)."""
        return self.gen(_flat(h))

    def d(self, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
        """The discriminator loss: the mean real term plus the mean fake term."""
        return self.real_term(real_logits).mean() + self.fake_term(fake_logits).mean()

    def g(self, fake_logits: Tensor) -> Tensor:
        """The generator loss: the mean G term."""
        return self.g_term(fake_logits).mean()


def _neg(h: Tensor) -> Tensor:
    return -h


def _identity(h: Tensor) -> Tensor:
    return h


LOSSES: dict[str, AdversarialLoss] = {
    loss.name: loss
    for loss in (
        AdversarialLoss("minimax", lambda h: F.softplus(-h), F.softplus, lambda h: -F.softplus(h)),
        AdversarialLoss("nonsaturating", lambda h: F.softplus(-h), F.softplus,
                        lambda h: F.softplus(-h)),
        AdversarialLoss("lsgan", lambda h: 0.5 * (h - 1) ** 2, lambda h: 0.5 * h**2,
                        lambda h: 0.5 * (h - 1) ** 2, monotone_real=False),
        AdversarialLoss("wgan", _neg, _identity, _neg),
        AdversarialLoss("wgan-gp", _neg, _identity, _neg, penalty=WGANGP(10.0)),
        AdversarialLoss("hinge", lambda h: F.relu(1 - h), lambda h: F.relu(1 + h), _neg),
        AdversarialLoss("rkl", lambda h: h.exp(), _neg, _identity),
    )
}


def get_loss(loss: str | AdversarialLoss) -> AdversarialLoss:
    """A loss given by name or as an object; an unknown name raises ConfigError, with a hint."""
    if isinstance(loss, AdversarialLoss):
        return loss
    if loss not in LOSSES:
        raise unknown_key("", str(loss), LOSSES, what="loss")
    return LOSSES[loss]


def d_loss(loss: str | AdversarialLoss, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Discriminator loss (to minimise) for logits on real (B, 1) and fake (B, 1) inputs."""
    return get_loss(loss).d(real_logits, fake_logits)


def g_loss(loss: str | AdversarialLoss, fake_logits: Tensor) -> Tensor:
    """Generator loss (to minimise) for logits on fake inputs (B, 1)."""
    return get_loss(loss).g(fake_logits)
