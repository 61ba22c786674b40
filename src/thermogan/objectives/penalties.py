"""Gradient penalty of WGAN-GP (Gulrajani et al. 2017): E[(‖∇_x̂ D(x̂)‖₂ − 1)²] on random
interpolates x̂ = εx + (1 − ε)x̃ between real x and fake x̃, ε ~ U[0, 1] per sample.

For a conditional critic the interpolates are scored with the real samples' labels (as
StudioGAN does): an interpolate has no class of its own.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn


def gradient_penalty_terms(discriminator: nn.Module, real: Tensor, fake: Tensor,
                           generator: torch.Generator | None = None,
                           labels: Tensor | None = None) -> Tensor:
    """The penalty of each interpolate (B,), differentiable in the discriminator's parameters."""
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(eps_shape, generator=generator, device=real.device, dtype=real.dtype)
    mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)  # (B, ...)
    out = discriminator(mixed) if labels is None else discriminator(mixed, labels)  # (B, 1)
    (grad,) = torch.autograd.grad(out.sum(), mixed, create_graph=True)
    norms = grad.flatten(1).norm(dim=1)  # (B,)
    return (norms - 1) ** 2


def gradient_penalty(discriminator: nn.Module, real: Tensor, fake: Tensor,
                     generator: torch.Generator | None = None,
                     labels: Tensor | None = None) -> Tensor:
    """The mean penalty over the batch."""
    return gradient_penalty_terms(discriminator, real, fake, generator, labels).mean()
