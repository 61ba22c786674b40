"""Scoring a sampler against an unnormalised density μ ∝ exp(−U), normalised on a grid.

The protocol of learning from an energy (Tao et al. 2019, "Variational Annealing of GANs: A
Langevin Perspective", Fig. 6; energies of Rezende & Mohamed 2015): a square window [low, high]²
cut into cells × cells cells.

- Target: p_i ∝ ∫_cell exp(−U), by the midpoint rule on ``subdivisions``² points per cell,
  normalised to sum 1 over the window (U2–U4 are not normalisable on the plane, so the target is
  the one restricted to the window).
- Model: the histogram of the samples inside the window, with a pseudo-count ``smoothing`` added
  to every cell, q_i = (c_i + α) / (N_in + α·M), so that both KLs stay finite;
  ``outside`` is the fraction of samples outside the window (not in q).
- ``kl_target_model`` = Σ p_i log(p_i/q_i) (a missed lobe costs its mass times log(p/q_empty));
  ``kl_model_target`` = Σ q_i log(q_i/p_i) (samples where the target has little mass).
- Regions: each point belongs to the region whose log-sum-exp term of U dominates (the energy's
  ``regions``); the samples' mass per region (among those in the window) against the target's.

A sampler that draws exactly from the gridded target (``sample_grid``) scores the floor that the
finite sample size leaves: about (M_occupied − 1)/(2N) for KL(target‖model).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

EnergyFn = Callable[[Tensor], Tensor]  # U: (n, 2) -> (n,)
RegionFn = Callable[[Tensor], Tensor]  # (n, 2) -> (n,) region indices


@dataclass(frozen=True)
class GridTarget:
    """The target normalised on the grid: ``probs`` (cells, cells), index [i, j] for the cell of
    z₁ bin i and z₂ bin j; ``region_mass``: the target's mass in each region (sums to 1)."""

    low: float
    high: float
    cells: int
    subdivisions: int
    probs: np.ndarray
    region_mass: tuple[float, ...]

    @property
    def edges(self) -> np.ndarray:
        """The cells' edges along each axis (cells + 1,)."""
        return np.linspace(self.low, self.high, self.cells + 1)


@dataclass(frozen=True)
class DensityScores:
    """Both KLs between the gridded target and the samples' histogram, and region masses."""

    kl_target_model: float
    kl_model_target: float
    region_mass: tuple[float, ...]  # the samples' (in the window)
    target_region_mass: tuple[float, ...]
    outside: float  # fraction of samples outside the window
    samples: int


def grid_target(energy: EnergyFn, regions: RegionFn | None = None, num_regions: int = 1,
                low: float = -4.0, high: float = 4.0, cells: int = 50,
                subdivisions: int = 4) -> GridTarget:
    """The target exp(−U) integrated over each cell of [low, high]² and normalised."""
    if not high > low:
        raise ValueError(f"window=[{low}, {high}]: high must be > low")
    if cells < 1 or subdivisions < 1:
        raise ValueError(f"cells={cells}, subdivisions={subdivisions}: both must be >= 1")
    fine = cells * subdivisions
    centres = low + (np.arange(fine) + 0.5) * (high - low) / fine  # (fine,)
    z1, z2 = np.meshgrid(centres, centres, indexing="ij")
    points = torch.as_tensor(np.stack([z1.ravel(), z2.ravel()], 1))  # (fine², 2) float64
    with torch.no_grad():
        u = energy(points).numpy()  # (fine²,)
        region = (regions(points).numpy() if regions is not None
                  else np.zeros(len(points), dtype=np.int64))
    weight = np.exp(-(u - u.min()))  # (fine²,)
    weight /= weight.sum()
    probs = weight.reshape(cells, subdivisions, cells, subdivisions).sum((1, 3))  # (cells, cells)
    mass = np.bincount(region, weights=weight, minlength=num_regions)
    return GridTarget(float(low), float(high), cells, subdivisions, probs,
                      tuple(float(m) for m in mass))


def kl_divergence(p: np.ndarray, q: np.ndarray) -> float:
    """Σ p log(p/q) over cells with p > 0 (0 log 0 = 0); p and q each sum to 1."""
    p, q = np.ravel(p), np.ravel(q)
    keep = p > 0
    return float(np.sum(p[keep] * np.log(p[keep] / q[keep])))


def density_scores(samples: np.ndarray | Tensor, target: GridTarget,
                   regions: RegionFn | None = None, smoothing: float = 0.01) -> DensityScores:
    """Score ``samples`` (N, 2) against ``target`` (see the module's docstring)."""
    if not smoothing > 0:
        raise ValueError(f"smoothing={smoothing!r}: must be > 0 (a pseudo-count per cell)")
    x = np.asarray(torch.as_tensor(samples).detach().cpu(), dtype=np.float64)
    if x.ndim != 2 or x.shape[1] != 2 or len(x) == 0:
        raise ValueError(f"samples of shape {x.shape}: expected (N, 2) with N > 0")
    inside = np.all((x >= target.low) & (x <= target.high), axis=1)  # (N,)
    counts, _, _ = np.histogram2d(x[inside, 0], x[inside, 1], bins=target.edges)
    q = (counts + smoothing) / (counts.sum() + smoothing * counts.size)  # (cells, cells)
    num_regions = len(target.region_mass)
    if not inside.any():
        mass = np.full(num_regions, np.nan)
    else:
        with torch.no_grad():
            region = (regions(torch.as_tensor(x[inside])).numpy() if regions is not None
                      else np.zeros(int(inside.sum()), dtype=np.int64))
        mass = np.bincount(region, minlength=num_regions) / inside.sum()
    return DensityScores(kl_divergence(target.probs, q), kl_divergence(q, target.probs),
                         tuple(float(m) for m in mass), target.region_mass,
                         float(1 - inside.mean()), len(x))


def sample_grid(target: GridTarget, n: int, generator: np.random.Generator) -> np.ndarray:
    """``n`` points (n, 2) drawn exactly from the gridded target: a cell by its mass, then
    uniformly inside it (the sampler that scores the protocol's floor)."""
    flat = generator.choice(target.probs.size, size=n, p=target.probs.ravel())
    i, j = np.unravel_index(flat, target.probs.shape)
    width = (target.high - target.low) / target.cells
    offsets = generator.random((n, 2))
    return np.stack([target.low + (i + offsets[:, 0]) * width,
                     target.low + (j + offsets[:, 1]) * width], axis=1)
