"""The free energy's G terms, for learning from an unnormalised density μ_β ∝ exp(−βU)
(Chen et al. 2019, "Variational Annealing of GANs: A Langevin Perspective", Fig. 6).

G minimises the free energy F_β(ρ) = E_ρ[log ρ] + β E_ρ[U], whose minimiser is μ_β. The entropy
needs a density-ratio critic: D separates G's samples from a tractable reference q (the energy
data's "real" side, ``data/energy.py``). With the ``rkl`` loss (D = −exp(h)), D's optimum is
h* = log(ρ/q), so G's adversarial loss E_ρ[h] ≈ KL(ρ‖q) = E_ρ[log ρ] − E_ρ[log q], and

    adversarial + ``reference`` + β·``energy``  =  E_ρ[log ρ] + β E_ρ[U]  =  F_β(ρ),

with ``reference`` = mean_b log q(G(z_b)) (weight 1) and ``energy`` = mean_b U(G(z_b)) (its
weight is β, a number or a schedule: β from ≪ 1 up to 1 anneals from broad to the target).
"""

from __future__ import annotations

from torch import Tensor, nn

from thermogan.data.batch import Batch
from thermogan.step import DStep, Player


def _require(data: object, method: str, kind: str) -> None:
    if not callable(getattr(data, method, None)):
        raise ValueError(f"kind={kind}: the data {getattr(data, 'name', data)!r} have no energy "
                         "U; use data: {kind: energy, energy: u1}")


class EnergyTerm:
    """mean_b U(G(z_b)): the free energy's energy term (weight β)."""

    name = "energy"

    def __init__(self, data: object) -> None:
        _require(data, "energy", "energy")
        self.data = data

    def players(self) -> list[Player]:
        return []

    def __call__(self, fake: Batch, d: DStep, discriminator: nn.Module) -> Tensor:
        return self.data.energy(fake.x).mean()


class ReferenceTerm:
    """mean_b log q(G(z_b)): with the rkl critic's KL(ρ‖q), it leaves G's entropy term
    E_ρ[log ρ] (weight 1)."""

    name = "reference"

    def __init__(self, data: object) -> None:
        _require(data, "log_reference", "reference")
        self.data = data

    def players(self) -> list[Player]:
        return []

    def __call__(self, fake: Batch, d: DStep, discriminator: nn.Module) -> Tensor:
        return self.data.log_reference(fake.x).mean()
