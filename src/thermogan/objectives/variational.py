"""Variational annealing's score regulariser (Tao et al. 2019, "Variational Annealing of GANs:
A Langevin Perspective"), a G term.

G minimises ``V(ρ, D) − λ·E_ρ[log μ]``; with the RKL loss the optimum is ρ* ∝ μ^(1+λ): λ > 0
sharpens the data, −1 < λ < 0 broadens it (docs/variational.md). E_ρ[log μ] is not known, but its
gradient is E_z[J_G(z)ᵀ S_μ(G(z))] with S_μ = ∇ log μ the data's score, so the term

    −mean_b ⟨x_b, stopgrad S(x_b)⟩,   x = G(z) (``space: data``) or φ(G(z)) (``space: features``,
                                      D's penultimate features)

has the regulariser's gradient; the trainer multiplies it by λ(t) (``weight``, a number or a
schedule such as ``pma``, ``nma``, ``oa``). Scores: ``analytic`` (toy data's closed form, data
space only) or ``dae`` (a denoising autoencoder trained on real samples or features, a player).

``code_compat: true`` (with ``score: dae``) is the authors' code instead (their Chainer updater:
``l · mean((r(f).data − f) · f)``): the denoiser's output is detached but its −x is not, so the
gradient is l·(r − 2x)/n rather than l·(r − x)/n (an extra −(l/2)·mean x² against the detached
form); it averages over the F entries and has their sign, so its weight is their l and
λ = −l/F up to that extra term.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, Literal

import torch
from torch import Tensor, nn

from thermogan.data.batch import Batch
from thermogan.nets.features import penultimate
from thermogan.objectives.denoiser import Denoiser, DenoiserPlayer
from thermogan.step import DStep, Player


def optimum_std(std: float, lam: float) -> float:
    """The std of ρ* ∝ μ^(1+λ) for μ = N(m, std²): std/√(1+λ) (λ > −1)."""
    if not lam > -1:
        raise ValueError(f"lambda={lam!r}: the optimum exists for λ > −1 only")
    return std / math.sqrt(1 + lam)


def _identity(x: Tensor, discriminator: nn.Module) -> Tensor:
    return x


def _features(x: Tensor, discriminator: nn.Module) -> Tensor:
    return penultimate(discriminator)(x)


def _feature_dim(data: object, discriminator: nn.Module | None, space: str) -> int:
    """F: the entries of a sample (data space) or of D's penultimate features."""
    shape = tuple(data.shape)
    if space == "data":
        return int(torch.Size(shape).numel())
    if discriminator is None:
        raise ValueError("space=features: needs the discriminator (discriminator=D)")
    was_training = discriminator.training
    discriminator.eval()  # a probe: leave batch norm's running statistics alone
    try:
        with torch.no_grad():
            weight = next(discriminator.parameters())
            probe = torch.zeros(2, *shape, device=weight.device, dtype=weight.dtype)
            return int(penultimate(discriminator)(probe).shape[1])
    finally:
        discriminator.train(was_training)


class ScoreRegulariser(nn.Module):
    """The score term (see the module's docstring); with ``score="dae"`` its denoiser is a
    player (``players()``) and a module of this term (the trainer moves it to its device)."""

    name = "score"
    weight_minimum = -1.0  # the optimum ρ* ∝ μ^(1+λ) is no density for λ < −1

    def __init__(self, data: object, score: Literal["analytic", "dae"] = "analytic",
                 space: Literal["data", "features"] = "data", code_compat: bool = False,
                 sigma: float = 0.1, hidden: Sequence[int] = (256, 256), lr: float = 1e-3,
                 discriminator: nn.Module | None = None) -> None:
        super().__init__()
        if score == "analytic" and space == "features":
            raise ValueError("score=analytic: closed-form scores are in data space; "
                             "use score: dae for space: features")
        if code_compat and score != "dae":
            raise ValueError("code_compat=true: the authors' form is their denoiser's; use "
                             "score: dae")
        if score == "analytic" and not callable(getattr(data, "score", None)):
            raise ValueError(f"score=analytic: the data {getattr(data, 'name', data)!r} have no "
                             "closed-form score; use score: dae")
        if score == "analytic":  # data without one (uniform boxes) say so now, not at step 1
            try:
                data.score(torch.zeros(1, *data.shape))  # type: ignore[attr-defined]
            except ValueError as err:
                raise ValueError(f"score=analytic: {err}") from None
        self.data, self.kind, self.space, self.code_compat = data, score, space, code_compat
        self.inputs = _identity if space == "data" else _features
        self.denoiser: Denoiser | None = None
        self._players: list[Player] = []
        if score == "dae":
            self.denoiser = Denoiser(_feature_dim(data, discriminator, space), sigma, hidden)
            self._players = [DenoiserPlayer(self.denoiser, self.inputs, lr)]

    def players(self) -> list[Player]:
        return list(self._players)

    def expected(self, data: Any, weight: float) -> dict[str, float]:
        """What a run whose only G term this is, at the constant ``weight`` λ, should reach: for
        data of one Gaussian N(m, σ²), the optimum's std σ/√(1+λ) (``optimum_std``, under the
        RKL loss); {} for other data or λ ≤ −1. A scorer records it beside the samples' std."""
        one_gaussian = (len(getattr(data, "centers", ())) == 1
                        and getattr(data, "halfwidth", 0) is None)
        if not (one_gaussian and weight > -1):
            return {}
        return {"optimum_std": optimum_std(data.std, float(weight))}

    def score(self, x: Tensor) -> Tensor:
        """S(x) (B, F) for flattened x (B, F): the data's closed form, or the denoiser's."""
        if self.denoiser is not None:
            return self.denoiser.score(x)
        return self.data.score(x)

    def forward(self, fake: Batch, d: DStep, discriminator: nn.Module) -> Tensor:
        x = self.inputs(fake.x, discriminator).flatten(1)  # (B, F) with G's graph
        if self.code_compat:  # (r(x) detached − x)/σ², as their updater
            s = (self.denoiser(x).detach() - x) / self.denoiser.sigma**2
            return (x * s).mean()
        with torch.no_grad():
            s = self.score(x)  # (B, F)
        return -(x * s).sum(1).mean()
