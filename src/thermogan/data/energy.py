"""Unnormalised densities μ ∝ exp(−U): the four 2-D energies of Rezende & Mohamed (2015),
"Variational Inference with Normalizing Flows" (Table 1), as data for learning from an energy
(Tao et al. 2019, "Variational Annealing of GANs: A Langevin Perspective", Fig. 6).

With w1 = sin(2πz₁/4), w2 = 3 exp(−½((z₁−1)/0.6)²), w3 = 3 σ((z₁−1)/0.3)::

    U1 = ½((‖z‖−2)/0.4)² − log(e^{−½((z₁−2)/0.6)²} + e^{−½((z₁+2)/0.6)²})    two lobes on a ring
    U2 = ½((z₂−w1)/0.4)²                                                       one sine branch
    U3 = −log(e^{−½((z₂−w1)/0.35)²} + e^{−½((z₂−w1+w2)/0.35)²})               two branches
    U4 = −log(e^{−½((z₂−w1)/0.4)²} + e^{−½((z₂−w1+w3)/0.35)²})                two branches

Each is written as ``base(z) − logsumexp_k t_k(z)``: the terms t_k of the log-sum-exp name the
target's regions (lobes of U1, branches of U3 and U4; U2 has one), and a point belongs to the
region whose term dominates (``regions``).

U2–U4 do not decay along z₁, so exp(−U) is not normalisable on the plane: the target lives on the
window [−w, w]² (w = ``window``, 4 as in Rezende & Mohamed's figures), where U is as written;
outside it U gains a wall ½(d/0.05)² at distance d from the window (a soft 1_W that G's gradient
can feel). The metrics normalise the target on the same window (``metrics/density.py``).

Only U is known. What a GAN's D calls "real" is a tractable reference q = N(0, s² I₂)
(``sample``, ``log_reference``): D learns the density ratio log(ρ/q) between G's samples and q,
which gives G its entropy (``objectives/free_energy.py``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Literal

import torch
from torch import Tensor

from thermogan.data.batch import Batch

Terms = tuple[Tensor, Tensor]  # base (n,) and log-sum-exp terms (n, K)


def _w1(z1: Tensor) -> Tensor:
    return torch.sin(2 * math.pi * z1 / 4)


def _w2(z1: Tensor) -> Tensor:
    return 3 * torch.exp(-0.5 * ((z1 - 1) / 0.6) ** 2)


def _w3(z1: Tensor) -> Tensor:
    return 3 * torch.sigmoid((z1 - 1) / 0.3)


def _gauss(x: Tensor, std: float) -> Tensor:
    """The exponent −½(x/std)² of an unnormalised Gaussian (n,)."""
    return -0.5 * (x / std) ** 2


def _u1(z: Tensor) -> Terms:
    z1 = z[:, 0]
    radius = torch.linalg.vector_norm(z, dim=1)  # (n,)
    terms = torch.stack([_gauss(z1 - 2, 0.6), _gauss(z1 + 2, 0.6)], dim=1)  # (n, 2)
    return -_gauss(radius - 2, 0.4), terms


def _u2(z: Tensor) -> Terms:
    d = z[:, 1] - _w1(z[:, 0])  # (n,)
    return -_gauss(d, 0.4), torch.zeros_like(d)[:, None]


def _u3(z: Tensor) -> Terms:
    d = z[:, 1] - _w1(z[:, 0])  # (n,)
    terms = torch.stack([_gauss(d, 0.35), _gauss(d + _w2(z[:, 0]), 0.35)], dim=1)  # (n, 2)
    return torch.zeros_like(d), terms


def _u4(z: Tensor) -> Terms:
    d = z[:, 1] - _w1(z[:, 0])  # (n,)
    terms = torch.stack([_gauss(d, 0.4), _gauss(d + _w3(z[:, 0]), 0.35)], dim=1)  # (n, 2)
    return torch.zeros_like(d), terms


#: name -> (the energy's base and log-sum-exp terms, the names of its regions)
ENERGIES: dict[str, tuple[Callable[[Tensor], Terms], tuple[str, ...]]] = {
    "u1": (_u1, ("lobe z1>0", "lobe z1<0")),
    "u2": (_u2, ("branch",)),
    "u3": (_u3, ("upper branch", "lower branch")),
    "u4": (_u4, ("upper branch", "lower branch")),
}

EnergyName = Literal["u1", "u2", "u3", "u4"]
WALL = 0.05  # the window's wall: U + ½(d/WALL)² at distance d outside it


class EnergyData:
    """A target known by its energy U only, and the Gaussian reference q that D calls real.

    ``energy(x)``: U (n,) of points x (n, 2), differentiable, with the wall outside the window
    [−``window``, ``window``]² (None: no wall). ``regions(x)``: the index (n,) of the region
    (``region_names``) whose log-sum-exp term dominates at x. ``sample``: draws from
    q = N(0, ``reference_std``² I₂); ``log_reference(x)``: log q(x) (n,).
    """

    is_image = False
    #: How its runs are scored (``experiment/scoring.py``'s ``SCORERS``): against the target.
    family = "energy"
    shape = (2,)
    dim = 2
    num_classes = None
    box = None  # energies live where U puts them: no box

    def __init__(self, name: EnergyName, reference_std: float,
                 window: float | None = 4.0) -> None:
        if name not in ENERGIES:
            raise ValueError(f"energy={name!r}: must be one of {', '.join(ENERGIES)}")
        if not reference_std > 0:
            raise ValueError(f"reference_std={reference_std!r}: must be > 0")
        if window is not None and not window > 0:
            raise ValueError(f"window={window!r}: must be > 0 (or null: no window)")
        self.name = name
        self.reference_std = float(reference_std)
        self.window = None if window is None else float(window)
        self._terms, self.region_names = ENERGIES[name]

    def energy(self, x: Tensor) -> Tensor:
        """U(x) (n,) for points x (n, 2), plus the wall outside the window."""
        base, terms = self._terms(x)
        u = base - torch.logsumexp(terms, dim=1)  # (n,)
        if self.window is None:
            return u
        outside = torch.relu(x.abs() - self.window)  # (n, 2)
        return u + 0.5 * (outside / WALL).pow(2).sum(1)

    def regions(self, x: Tensor) -> Tensor:
        """The region (n,) of each point x (n, 2): its dominant log-sum-exp term."""
        return self._terms(x)[1].argmax(dim=1)

    def log_reference(self, x: Tensor) -> Tensor:
        """log q(x) (n,) under the reference q = N(0, s² I₂)."""
        s2 = self.reference_std**2
        return -(x**2).sum(1) / (2 * s2) - math.log(2 * math.pi * s2)

    def sample(self, n: int, generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> Batch:
        """``n`` draws (n, 2) from the reference q (no labels)."""
        device = torch.device(device) if device is not None else (
            generator.device if generator is not None else torch.device("cpu"))
        x = torch.randn(n, 2, generator=generator, device=device) * self.reference_std
        return Batch(x)

    def in_box(self, low: float, high: float) -> EnergyData:
        """Refused: an energy fixes where its mass lies, so it cannot be mapped into a box."""
        raise ValueError(f"box=[{low}, {high}]: energy {self.name!r} defines its target where U "
                         "puts it; set data.box to null")

    def to_data(self, x: object) -> object:
        """Points as they are (an energy's samples live in its own space)."""
        return x

    def __repr__(self) -> str:
        return f"EnergyData({self.name!r}, reference_std={self.reference_std:g})"


def energy(energy: EnergyName = "u1", reference_std: float = 4.0,
           window: float | None = 4.0) -> EnergyData:
    """The energy ``energy`` (Rezende & Mohamed 2015: u1 … u4) on the window
    [−``window``, ``window``]² (null: the plane), with a Gaussian reference
    q = N(0, ``reference_std``² I₂) as D's "real" side (broad enough to cover the window)."""
    return EnergyData(energy, reference_std, window)


DATASETS: dict[str, Callable[..., EnergyData]] = {"energy": energy}
