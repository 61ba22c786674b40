"""The free energy's G terms, for learning from an unnormalised density μ_β ∝ exp(−βU)
(Tao et al. 2019, "Variational Annealing of GANs: A Langevin Perspective", Fig. 6).

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


class _DataTerm:
    """mean_b of one of the data's functions at G's samples; the data must have it."""

    name = ""
    method = ""
    weight_minimum = 0.0  # β < 0 (or a negative reference weight) rewards the energy

    def __init__(self, data: object) -> None:
        if not callable(getattr(data, self.method, None)):
            raise ValueError(f"kind={self.name}: the data {getattr(data, 'name', data)!r} have no "
                             "energy U; use data: {kind: energy, energy: u1}")
        self.of = getattr(data, self.method)

    def players(self) -> list[Player]:
        return []

    def __call__(self, fake: Batch, d: DStep, discriminator: nn.Module) -> Tensor:
        return self.of(fake.x).mean()


class EnergyTerm(_DataTerm):
    """mean_b U(G(z_b)): the free energy's energy term (weight β)."""

    name, method = "energy", "energy"


class ReferenceTerm(_DataTerm):
    """mean_b log q(G(z_b)): with the rkl critic's KL(ρ‖q), it leaves G's entropy term
    E_ρ[log ρ] (weight 1)."""

    name, method = "reference", "log_reference"
