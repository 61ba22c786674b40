"""Gradient penalties on D: one small object per penalty, computed on the member axis.

- WGAN-GP (Gulrajani et al. 2017): λ · E[(‖∇_x̂ D(x̂)‖₂ − 1)²] on random interpolates
  x̂ = εx + (1 − ε)x̃ between real x and fake x̃, ε ~ U[0, 1] per sample, drawn from each
  member's own stream. For a conditional critic the interpolates are scored with the real
  samples' labels (as StudioGAN does): an interpolate has no class of its own.
- R1 and R2 (Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?"):
  zero-centred penalties γ/2 · E‖∇_x D(x)‖₂² on real samples (R1) or on generated ones (R2),
  D being the logit. Near a Nash equilibrium they make the gradient-descent dynamics locally
  convergent where unregularised GAN training may circle.

In the training step, real and fake are what D saw of each batch (after the temperings).

Contract (``Penalty``): ``penalty(critic, real, fake, real_y, fake_y, generators, packs)``
returns each member's weighted penalty (S,), differentiable in D's parameters and in nothing
else (its inputs are detached first). ``critic(x, y)`` is the members' D on x (S, B, ...) and
labels y (S, B) or None, returning logits (S, B/m, 1); ``generators`` holds one stream per member.
One run is one member: ``penalty(lambda x, y: D(x[0])[None], real[None], fake[None])``.

A packed discriminator (PacGAN, ``nets/packed.py``) is one function of a whole pack of ``packs``
samples (pack j holds rows j, n + j, ... of the batch): its penalties are taken per pack, on the
gradient with respect to the pack's m samples together, and WGAN-GP draws one ε per pack.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

#: The members' D: samples (S, B, ...) and labels (S, B) or None -> logits (S, B/m, 1).
Critic = Callable[[Tensor, Tensor | None], Tensor]


def pack_gradients(critic: Critic, x: Tensor, labels: Tensor | None, packs: int = 1) -> Tensor:
    """∇_x D(x) of each pack (S, n, m·...) at x (S, B, ...) with n = B/m, with a graph for D's
    parameters; x is detached first, so no gradient reaches what made it."""
    x = x.detach().requires_grad_(True)
    (grad,) = torch.autograd.grad(critic(x, labels).sum(), x, create_graph=True)
    s, b = grad.shape[:2]
    return grad.reshape(s, packs, b // packs, -1).transpose(1, 2).flatten(2)  # (S, n, m·...)


@dataclass(frozen=True)
class Penalty:
    """A penalty on D's input gradients, added to D's loss with its ``weight`` (see the module
    docstring). A subclass writes ``terms``: the unweighted penalty of each example (pack)."""

    weight: float

    def __post_init__(self) -> None:
        if isinstance(self.weight, bool) or not self.weight >= 0:
            raise ValueError(f"weight={self.weight!r}: must be >= 0")

    def terms(self, critic: Critic, real: Tensor, fake: Tensor, real_y: Tensor | None,
              fake_y: Tensor | None, generators: Sequence[torch.Generator],
              packs: int) -> Tensor:
        """The penalty of each member's examples (packs) (S, n), unweighted."""
        raise NotImplementedError

    def __call__(self, critic: Critic, real: Tensor, fake: Tensor, real_y: Tensor | None = None,
                 fake_y: Tensor | None = None, generators: Sequence[torch.Generator] = (),
                 packs: int = 1) -> Tensor:
        """Each member's weighted penalty: ``weight`` times the mean of its terms (S,)."""
        return self.weight * self.terms(critic, real, fake, real_y, fake_y, generators,
                                        packs).mean(1)


@dataclass(frozen=True)
class WGANGP(Penalty):
    """WGAN-GP's (‖∇D(x̂)‖ − 1)² at interpolates (Gulrajani et al. 2017; their λ = 10)."""

    weight: float = 10.0

    def terms(self, critic: Critic, real: Tensor, fake: Tensor, real_y: Tensor | None,
              fake_y: Tensor | None, generators: Sequence[torch.Generator],
              packs: int) -> Tensor:
        s, b = real.shape[:2]
        if len(generators) != s:
            raise ValueError(f"wgan_gp draws its interpolates from one stream per member: "
                             f"{len(generators)} streams for {s} members")
        eps = torch.stack([torch.rand(b // packs, generator=g, device=g.device, dtype=real.dtype)
                           for g in generators]).to(real.device)  # (S, n): one per pack
        eps = eps.repeat(1, packs).reshape(s, b, *(1,) * (real.dim() - 2))  # row kn + j: ε_j
        mixed = eps * real.detach() + (1 - eps) * fake.detach()  # (S, B, ...)
        return (pack_gradients(critic, mixed, real_y, packs).norm(dim=2) - 1) ** 2


@dataclass(frozen=True)
class R1(Penalty):
    """Mescheder et al.'s R1: ½‖∇D(x)‖² on the real samples (the weight is their γ)."""

    def terms(self, critic: Critic, real: Tensor, fake: Tensor, real_y: Tensor | None,
              fake_y: Tensor | None, generators: Sequence[torch.Generator],
              packs: int) -> Tensor:
        return 0.5 * pack_gradients(critic, real, real_y, packs).pow(2).sum(2)


@dataclass(frozen=True)
class R2(Penalty):
    """Mescheder et al.'s R2: ½‖∇D(x̃)‖² on the generated samples (the weight is their γ)."""

    def terms(self, critic: Critic, real: Tensor, fake: Tensor, real_y: Tensor | None,
              fake_y: Tensor | None, generators: Sequence[torch.Generator],
              packs: int) -> Tensor:
        return 0.5 * pack_gradients(critic, fake, fake_y, packs).pow(2).sum(2)


#: ``objective.penalty: {kind, weight}``; ``thermogan list`` prints them with their options.
PENALTIES: dict[str, type[Penalty]] = {"wgan_gp": WGANGP, "r1": R1, "r2": R2}
