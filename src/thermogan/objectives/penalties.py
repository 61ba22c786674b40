"""Gradient penalties on D, per example.

- WGAN-GP (Gulrajani et al. 2017): E[(‖∇_x̂ D(x̂)‖₂ − 1)²] on random interpolates
  x̂ = εx + (1 − ε)x̃ between real x and fake x̃, ε ~ U[0, 1] per sample. For a conditional
  critic the interpolates are scored with the real samples' labels (as StudioGAN does): an
  interpolate has no class of its own.
- R1 and R2 (Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?"):
  zero-centred penalties γ/2 · ‖∇_x D(x)‖₂² on real samples (R1) or on generated
  ones (R2), D being the logit. Near a Nash equilibrium they make the gradient-descent
  dynamics locally convergent where unregularised GAN training may circle.

A packed discriminator (PacGAN, ``nets/packed.py``) is one function of a whole pack: its
penalties are taken per pack, on the gradient with respect to the pack's m samples together
(and the interpolates of WGAN-GP draw one ε per pack).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from thermogan.nets.packed import PackedDiscriminator


def _unpacked(discriminator: nn.Module, *xs: Tensor) -> tuple[nn.Module, list[Tensor]]:
    """The network that judges one example, and ``xs`` as its examples: a packed D's inner
    network and the packs; any other D and ``xs`` as they are."""
    if isinstance(discriminator, PackedDiscriminator):
        return discriminator.inner, [discriminator.pack(x) for x in xs]
    return discriminator, list(xs)


def _input_gradients(discriminator: nn.Module, x: Tensor, labels: Tensor | None) -> Tensor:
    """∇_x D(x) per example (B, ...), with a graph for D's parameters; x must require grad."""
    out = discriminator(x) if labels is None else discriminator(x, labels)  # (B, 1)
    (grad,) = torch.autograd.grad(out.sum(), x, create_graph=True)
    return grad


def gradient_penalty_terms(discriminator: nn.Module, real: Tensor, fake: Tensor,
                           generator: torch.Generator | None = None,
                           labels: Tensor | None = None) -> Tensor:
    """The WGAN-GP penalty of each interpolate (B,), differentiable in the discriminator's
    parameters (per pack for a packed D)."""
    discriminator, (real, fake) = _unpacked(discriminator, real, fake)
    eps_shape = (real.shape[0],) + (1,) * (real.dim() - 1)
    eps = torch.rand(eps_shape, generator=generator, device=real.device, dtype=real.dtype)
    mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)  # (B, ...)
    norms = _input_gradients(discriminator, mixed, labels).flatten(1).norm(dim=1)  # (B,)
    return (norms - 1) ** 2


def gradient_penalty(discriminator: nn.Module, real: Tensor, fake: Tensor,
                     generator: torch.Generator | None = None,
                     labels: Tensor | None = None) -> Tensor:
    """The mean WGAN-GP penalty over the batch."""
    return gradient_penalty_terms(discriminator, real, fake, generator, labels).mean()


def zero_centred_penalty_terms(discriminator: nn.Module, x: Tensor, gamma: float,
                               labels: Tensor | None = None) -> Tensor:
    """γ/2 · ‖∇_x D(x)‖₂² of each example (B,) (per pack for a packed D), differentiable in
    D's parameters: R1 when ``x`` is real data, R2 when it is generated (Mescheder et al.
    2018). ``x`` is detached first, so no gradient reaches G."""
    if gamma < 0:
        raise ValueError(f"gamma={gamma!r}: must be >= 0")
    discriminator, (x,) = _unpacked(discriminator, x)
    x = x.detach().requires_grad_(True)  # (B, ...)
    grad = _input_gradients(discriminator, x, labels)  # (B, ...)
    return 0.5 * gamma * grad.flatten(1).pow(2).sum(1)
