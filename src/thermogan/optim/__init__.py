"""Optimizer registry: ``factory(params, **options) -> torch.optim.Optimizer``.

Config ``optim.g`` and ``optim.d`` choose one per player, e.g. ``{kind: adam, lr: 2e-4,
betas: [0.5, 0.999]}``. ``thermogan list`` prints the registry; ``sgld`` is Langevin's
(docs/langevin.md).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Literal

import torch
from torch import nn

from thermogan.optim.estimators import VarianceEstimator
from thermogan.optim.sgld import SGLD

Params = Iterable[nn.Parameter]


def adam(params: Params, lr: float = 1e-3, betas: tuple[float, float] = (0.5, 0.999),
         weight_decay: float = 0.0) -> torch.optim.Adam:
    """Adam (Kingma & Ba 2015); β₁ = 0.5 by default, as GANs commonly use (Radford et al. 2016).
    PyTorch's fused kernel: one pass over each parameter instead of about eight, which on a CPU
    makes the update of a 32-member ensemble's stacked parameters ten times faster
    (docs/scale.md)."""
    if not lr > 0:
        raise ValueError(f"lr={lr!r}: must be > 0")
    if not all(0 <= b < 1 for b in betas):
        raise ValueError(f"betas={list(betas)!r}: each must be in [0, 1)")
    if weight_decay < 0:
        raise ValueError(f"weight_decay={weight_decay!r}: must be >= 0")
    return torch.optim.Adam(params, lr, betas=betas, weight_decay=weight_decay, fused=True)


def sgd(params: Params, lr: float = 1e-3, momentum: float = 0.0,
        weight_decay: float = 0.0) -> torch.optim.SGD:
    """Stochastic gradient descent, with optional (heavy-ball) momentum."""
    if not lr > 0:
        raise ValueError(f"lr={lr!r}: must be > 0")
    if not 0 <= momentum < 1:
        raise ValueError(f"momentum={momentum!r}: must be in [0, 1)")
    if weight_decay < 0:
        raise ValueError(f"weight_decay={weight_decay!r}: must be >= 0")
    return torch.optim.SGD(params, lr, momentum=momentum, weight_decay=weight_decay)


def sgld(params: Params, lr: float = 1e-3, temperature: float = 1.0,
         noise: Literal["isotropic", "covariance", "ccadl"] = "isotropic",
         prior_std: float | None = None, average: Literal["running", "ema"] = "running",
         ema_decay: float = 0.99, batch_size: int | None = None,
         variance: VarianceEstimator | None = None) -> SGLD:
    """Langevin dynamics (Welling & Teh 2011) and the noise modes of docs/langevin.md: ``isotropic``
    (Σ = 2εT), ``covariance`` (Σ = 2εT·I_t, the paper's) or ``ccadl`` (Σ = 2εT − ε²I_t/B, needs
    ``batch_size``); I_t averages (``running`` or ``ema``) the per-example gradient variance the
    trainer hands in with ``set_variance``. ``prior_std`` is σ_p·sqrt(N) (None: no prior). The
    trainer sets ``opt.generator`` to its seeded generator. ``variance``: how that variance is
    estimated, a component of its own (``optim/estimators.py``: ``{kind: per_example, chunk}``
    or ``{kind: microbatch, microbatches}``; null: per_example over the whole batch).
    ``temperature`` may be a level (a schedule or a controller), written each step."""
    return SGLD(params, lr, temperature=temperature, noise=noise, prior_std=prior_std,
                average=average, ema_decay=ema_decay, batch_size=batch_size, variance=variance)


OPTIMIZERS: dict[str, Callable[..., torch.optim.Optimizer]] = {"adam": adam, "sgd": sgd,
                                                               "sgld": sgld}
