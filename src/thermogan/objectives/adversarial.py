"""Adversarial losses as functions of discriminator logits h (D = sigmoid(h) where it applies).

Each loss is a pair (discriminator loss, generator loss), both minimised, averaged over the batch:

- ``minimax`` (Goodfellow et al. 2014; the unmodified β-GAN loss): D: −log D(x) − log(1 − D(G(z)));
  G: log(1 − D(G(z))) (saturating).
- ``nonsaturating``: same D; G: −log D(G(z)).
- ``lsgan`` (Mao et al. 2017, labels a=0, b=c=1): D: ½(h_r − 1)² + ½h_f²; G: ½(h_f − 1)².
- ``wgan`` / ``wgan-gp`` (Arjovsky et al. 2017; Gulrajani et al. 2017): D: h_f − h_r; G: −h_f.
  ``wgan-gp`` adds a gradient penalty of weight 10 by default (``objectives/penalties.py``).
- ``hinge`` (Lim & Ye 2017): D: relu(1 − h_r) + relu(1 + h_f); G: −h_f.
- ``rkl`` (variational annealing, Chen et al. 2019): D = −exp(h), V = E_μ[D(x)] + E_ρ[log(−D(x'))]
  = −E_μ[e^{h_r}] + E_ρ[h_f]; D maximises V (loss e^{h_r} − h_f), G minimises it (loss h_f).

log D = −softplus(−h) and log(1 − D) = −softplus(h), so the sigmoid losses stay finite for any logit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch.nn.functional as F
from torch import Tensor

from thermogan.errors import unknown_key


@dataclass(frozen=True)
class AdversarialLoss:
    """A named pair of losses on logits, and the default weight of its gradient penalty."""

    name: str
    d: Callable[[Tensor, Tensor], Tensor]
    g: Callable[[Tensor], Tensor]
    gp_weight: float = 0.0


def _d_sigmoid(real: Tensor, fake: Tensor) -> Tensor:
    return F.softplus(-real).mean() + F.softplus(fake).mean()


def _g_saturating(fake: Tensor) -> Tensor:
    return -F.softplus(fake).mean()


def _g_nonsaturating(fake: Tensor) -> Tensor:
    return F.softplus(-fake).mean()


def _d_lsgan(real: Tensor, fake: Tensor) -> Tensor:
    return 0.5 * ((real - 1) ** 2).mean() + 0.5 * (fake**2).mean()


def _g_lsgan(fake: Tensor) -> Tensor:
    return 0.5 * ((fake - 1) ** 2).mean()


def _d_wgan(real: Tensor, fake: Tensor) -> Tensor:
    return fake.mean() - real.mean()


def _g_critic(fake: Tensor) -> Tensor:
    return -fake.mean()


def _d_hinge(real: Tensor, fake: Tensor) -> Tensor:
    return F.relu(1 - real).mean() + F.relu(1 + fake).mean()


def _d_rkl(real: Tensor, fake: Tensor) -> Tensor:
    return real.exp().mean() - fake.mean()


def _g_rkl(fake: Tensor) -> Tensor:
    return fake.mean()


LOSSES: dict[str, AdversarialLoss] = {
    loss.name: loss
    for loss in (
        AdversarialLoss("minimax", _d_sigmoid, _g_saturating),
        AdversarialLoss("nonsaturating", _d_sigmoid, _g_nonsaturating),
        AdversarialLoss("lsgan", _d_lsgan, _g_lsgan),
        AdversarialLoss("wgan", _d_wgan, _g_critic),
        AdversarialLoss("wgan-gp", _d_wgan, _g_critic, gp_weight=10.0),
        AdversarialLoss("hinge", _d_hinge, _g_critic),
        AdversarialLoss("rkl", _d_rkl, _g_rkl),
    )
}


def get_loss(kind: str) -> AdversarialLoss:
    """The registered loss called ``kind``; an unknown name raises ConfigError with a suggestion."""
    if kind not in LOSSES:
        raise unknown_key("", kind, LOSSES, what="loss")
    return LOSSES[kind]


def d_loss(kind: str, real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """Discriminator loss (to minimise) for logits on real (B, 1) and fake (B, 1) inputs."""
    return get_loss(kind).d(real_logits, fake_logits)


def g_loss(kind: str, fake_logits: Tensor) -> Tensor:
    """Generator loss (to minimise) for logits on fake inputs (B, 1)."""
    return get_loss(kind).g(fake_logits)
