"""A denoising autoencoder as a learned score, trained alongside the GAN as a player.

Trained to undo N(0, σ²) noise, r(x̃) ≈ E[x | x̃], and by Tweedie's formula (Alain & Bengio 2014;
Vincent 2011) ``(r(x) − x)/σ²`` estimates ∇ₓ log p_σ(x), the score of the data convolved with
the noise, which tends to the data's score as σ → 0. Variational annealing (Tao et al. 2019)
uses it where the data's density is unknown: in data space, or on D's penultimate features
(their code: σ = 1, on real features, detached).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from thermogan.nets.mlp import mlp
from thermogan.objectives.adversarial import AdversarialLoss
from thermogan.optim import adam
from thermogan.step import DStep


class Denoiser(nn.Module):
    """r: R^F -> R^F, an MLP of widths ``hidden`` plus a skip (r = x + body(x), body starting
    at 0, so the score estimate starts at 0); ``score(x) = (r(x) − x)/σ²``."""

    def __init__(self, dim: int, sigma: float, hidden: Sequence[int] = (256, 256)) -> None:
        super().__init__()
        if not sigma > 0:
            raise ValueError(f"sigma={sigma!r}: must be > 0")
        self.sigma = float(sigma)
        self.body = mlp(dim, dim, hidden)
        nn.init.zeros_(self.body[-1].weight)
        nn.init.zeros_(self.body[-1].bias)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.body(x)

    def score(self, x: Tensor) -> Tensor:
        """The score estimate (B, F) at x (B, F)."""
        return self.body(x) / self.sigma**2

    def loss(self, x: Tensor, generator: torch.Generator | None = None) -> Tensor:
        """Denoising error on clean x (B, F): mean over the batch of ‖r(x + σε) − x‖²."""
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return ((self(x + self.sigma * noise) - x) ** 2).sum(1).mean()


class DenoiserPlayer:
    """One Adam step of the denoiser per training step, on the real batch (detached), read
    through ``inputs`` (the identity in data space, D's penultimate features in feature space).
    Its state (weights and optimizer) is checkpointed with the players."""

    name = "denoiser"

    def __init__(self, denoiser: Denoiser, inputs: Callable[[Tensor, nn.Module], Tensor],
                 lr: float = 1e-3) -> None:
        self.denoiser, self.inputs = denoiser, inputs
        self.optimizer = adam(denoiser.parameters(), lr, betas=(0.9, 0.999))

    def check(self, loss: AdversarialLoss) -> None:
        return None  # the denoiser reads real samples only

    def update(self, d: DStep, discriminator: nn.Module, loss: AdversarialLoss,
               generator: torch.Generator | None = None) -> dict[str, Tensor]:
        with torch.no_grad():
            x = self.inputs(d.real.x, discriminator).flatten(1)  # (B, F)
        dae_loss = self.denoiser.loss(x, generator)
        self.optimizer.zero_grad(set_to_none=True)
        dae_loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return {"dae_loss": dae_loss.detach()}

    def state_dict(self) -> dict[str, Any]:
        return {"denoiser": self.denoiser.state_dict(), "optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.denoiser.load_state_dict(state["denoiser"])
        self.optimizer.load_state_dict(state["optimizer"])
