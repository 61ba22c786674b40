"""Toy distributions with known components, so that mode metrics can score samples from them.

Each dataset is a mixture of equally weighted components (Gaussian or uniform boxes) and knows
its component ``centers`` (K, d) and their ``std``. Sampling takes a ``torch.Generator``, so a
training run that checkpoints the generator's state draws the same batches after a resume.

Protocols:
- ring: 8 Gaussians on a circle of radius 1 with std 0.01; grid: 25 Gaussians at {−4, −2, 0, 2, 4}²
  with std 0.05 (the PacGAN protocol, Lin et al. 2018).
- 3-D mixtures with 4 or 5 components (Mehrjou & Saremi 2017 use 4, Mehrjou et al. 2018 use 5; the
  papers give no centres). Our choice: 4 at the vertices of a regular tetrahedron, 5 at the
  vertices of a triangular bipyramid, all at distance ``radius`` from the origin.
- two cubes: uniform on [−0.8, −0.3]³ ∪ [0.3, 0.8]³ (Mehrjou et al. 2018, Fig. 2).
- 1-D mixture: ``modes`` Gaussians ``spacing`` apart, centred on 0 (our choice: 4 at ±1, ±3).
- box: uniform on [low, high]^dim.
- gauss1d: one 1-D Gaussian N(mean, std²) (variational annealing's exactness check, whose
  optimum under the score regulariser is known in closed form).

Densities: ``log_prob(x)`` and, for Gaussian components, ``score(x) = ∇ₓ log p(x)`` in closed form,
in the space the samples live in (after ``in_box``, the mapped density: the map is part of it).

Labels: a sample of a mixture is labelled with the index of its component (``num_classes`` = K);
``cubes`` and ``box`` are not class data (their components are halves of one shape, or one box)
and carry no labels.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import torch
from torch import Tensor

from thermogan.data.batch import Batch


class ToyDataset:
    """An equal-weight mixture of Gaussian or uniform-box components.

    ``centers``: (K, d) component centres. ``std``: the per-coordinate std of every component
    (for a uniform box of side s it is s / sqrt(12)). ``halfwidth``: None for Gaussian
    components, else the half side of each (cubic) uniform component. ``labelled``: whether a
    sample carries its component's index as its label.
    """

    #: Toy data are vectors, never images.
    is_image = False
    #: How their runs are scored (``experiment/scoring.py``'s ``SCORERS``): modes and quality.
    family = "mixture"

    def __init__(self, name: str, centers: np.ndarray, std: float, halfwidth: float | None = None,
                 scale: float = 1.0, offset: np.ndarray | float = 0.0, labelled: bool = True):
        if std <= 0:
            raise ValueError(f"std={std!r}: must be > 0")
        self.name = name
        self.centers = np.asarray(centers, dtype=np.float64).reshape(len(centers), -1)
        self.std = float(std)
        self.halfwidth = halfwidth
        self.labelled = labelled
        self.scale, self.offset = float(scale), np.asarray(offset, dtype=np.float64)
        self.box: tuple[float, float] | None = None  # set by in_box
        self._centers_on: dict[torch.device, Tensor] = {}

    def in_box(self, low: float, high: float, margin: float = 3.0) -> ToyDataset:
        """The same distribution mapped by an isotropic affine map into [low, high]^d.

        The cube enclosing every component (``margin`` std around Gaussian centres, the whole
        box of uniform components) is mapped onto [low, high]^d; one scale for every axis keeps
        components round, so mode metrics are the same in either space. ``to_data`` undoes it.
        """
        if not high > low:
            raise ValueError(f"box=[{low}, {high}]: high must be > low")
        reach = self.halfwidth if self.halfwidth is not None else margin * self.std
        lo, hi = self.centers.min(0) - reach, self.centers.max(0) + reach  # (d,)
        scale = (high - low) / float((hi - lo).max())
        offset = (low + high) / 2 - scale * (lo + hi) / 2  # (d,)
        halfwidth = None if self.halfwidth is None else self.halfwidth * scale
        boxed = ToyDataset(self.name, self.centers * scale + offset, self.std * scale, halfwidth,
                           scale * self.scale, scale * self.offset + offset, self.labelled)
        boxed.box = (float(low), float(high))
        return boxed

    def to_data(self, x: np.ndarray) -> np.ndarray:
        """Map points of this dataset's space back to the original data space."""
        return (np.asarray(x, dtype=np.float64) - self.offset) / self.scale

    @property
    def dim(self) -> int:
        return self.centers.shape[1]

    @property
    def shape(self) -> tuple[int, ...]:
        return (self.dim,)

    @property
    def num_classes(self) -> int | None:
        """The number of components when samples are labelled with theirs, else None."""
        return len(self.centers) if self.labelled else None

    def _centers(self, device: torch.device) -> Tensor:
        if device not in self._centers_on:
            self._centers_on[device] = torch.as_tensor(self.centers, dtype=torch.float32,
                                                       device=device)
        return self._centers_on[device]

    def log_prob(self, x: Tensor) -> Tensor:
        """log p(x) (n,) of points x (n, d) under the mixture (−inf outside uniform boxes)."""
        centers = torch.as_tensor(self.centers, dtype=x.dtype, device=x.device)  # (K, d)
        log_k = math.log(len(self.centers))
        if self.halfwidth is not None:
            inside = ((x[:, None, :] - centers).abs() <= self.halfwidth).all(-1).any(-1)  # (n,)
            log_density = -self.dim * math.log(2 * self.halfwidth) - log_k
            return torch.where(inside, log_density, -math.inf).to(x.dtype)
        sq = ((x[:, None, :] - centers) ** 2).sum(-1)  # (n, K)
        norm = 0.5 * self.dim * math.log(2 * math.pi * self.std**2) + log_k
        return torch.logsumexp(-sq / (2 * self.std**2), dim=1) - norm

    def score(self, x: Tensor) -> Tensor:
        """∇ₓ log p(x) (n, d): the component means pulled towards, weighted by responsibility.

        Uniform boxes have no score (0 inside, undefined at the faces and outside): a ValueError
        points to a learned score instead.
        """
        if self.halfwidth is not None:
            raise ValueError(f"{self.name} has uniform components, whose score is 0 inside and "
                             "undefined outside; use score: dae")
        centers = torch.as_tensor(self.centers, dtype=x.dtype, device=x.device)  # (K, d)
        diff = centers - x[:, None, :]  # (n, K, d)
        weights = torch.softmax(-(diff**2).sum(-1) / (2 * self.std**2), dim=1)  # (n, K)
        return (weights[..., None] * diff).sum(1) / self.std**2

    def sample(self, n: int, generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> Batch:
        """``n`` samples (n, d) and their components (n,), drawn with ``generator``."""
        device = torch.device(device) if device is not None else (
            generator.device if generator is not None else torch.device("cpu"))
        centers = self._centers(device)  # (K, d)
        idx = torch.randint(len(centers), (n,), generator=generator, device=device)
        if self.halfwidth is None:
            noise = torch.randn(n, self.dim, generator=generator, device=device) * self.std
        else:
            unit = torch.rand(n, self.dim, generator=generator, device=device)
            noise = (2 * unit - 1) * self.halfwidth
        return Batch(centers[idx] + noise, idx if self.labelled else None)  # (n, d), (n,)

    def __repr__(self) -> str:
        return f"ToyDataset({self.name!r}, K={len(self.centers)}, d={self.dim}, std={self.std:g})"


def _positive(**values: float) -> None:
    for name, value in values.items():
        if not value > 0:
            raise ValueError(f"{name}={value!r}: must be > 0")


def ring(modes: int = 8, radius: float = 1.0, std: float = 0.01) -> ToyDataset:
    """``modes`` Gaussians evenly spaced on a circle (PacGAN: 8, radius 1, std 0.01)."""
    _positive(modes=modes, radius=radius, std=std)
    angles = 2 * np.pi * np.arange(modes) / modes
    centers = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    return ToyDataset(f"ring{modes}", centers, std)


def grid(size: int = 5, spacing: float = 2.0, std: float = 0.05) -> ToyDataset:
    """size × size Gaussians on a square grid centred on 0 (PacGAN: 5 × 5, spacing 2, std 0.05)."""
    _positive(size=size, spacing=spacing, std=std)
    axis = spacing * (np.arange(size) - (size - 1) / 2)
    xx, yy = np.meshgrid(axis, axis, indexing="ij")
    return ToyDataset(f"grid{size * size}", np.stack([xx.ravel(), yy.ravel()], axis=1), std)


def mog1d(modes: int = 4, spacing: float = 2.0, std: float = 0.1) -> ToyDataset:
    """``modes`` 1-D Gaussians ``spacing`` apart, centred on 0."""
    _positive(modes=modes, spacing=spacing, std=std)
    centers = spacing * (np.arange(modes) - (modes - 1) / 2)
    return ToyDataset(f"mog1d_{modes}", centers[:, None], std)


def mog3d(components: int = 4, radius: float = 1.0, std: float = 0.05) -> ToyDataset:
    """4 (tetrahedron) or 5 (triangular bipyramid) 3-D Gaussians at distance ``radius`` from 0."""
    _positive(radius=radius, std=std)
    if components == 4:
        corners = np.array([[1, 1, 1], [1, -1, -1], [-1, 1, -1], [-1, -1, 1]]) / math.sqrt(3)
    elif components == 5:
        ring3 = [[math.cos(a), math.sin(a), 0.0] for a in 2 * np.pi * np.arange(3) / 3]
        corners = np.array([[0.0, 0.0, 1.0], [0.0, 0.0, -1.0], *ring3])
    else:
        raise ValueError(f"components={components!r}: must be 4 or 5")
    return ToyDataset(f"mog3d_{components}", radius * corners, std)


def cubes(low: float = 0.3, high: float = 0.8) -> ToyDataset:
    """Uniform on [−high, −low]³ ∪ [low, high]³ (two disjoint cubes, Mehrjou et al. 2018)."""
    _positive(low=low)
    if not high > low:
        raise ValueError(f"high={high!r}: must be > low={low!r}")
    mid, half = (low + high) / 2, (high - low) / 2
    return ToyDataset("cubes", np.array([[-mid] * 3, [mid] * 3]), 2 * half / math.sqrt(12), half,
                      labelled=False)


def box(dim: int = 2, low: float = -1.0, high: float = 1.0) -> ToyDataset:
    """Uniform on the box [low, high]^dim (one component)."""
    _positive(dim=dim)
    if not high > low:
        raise ValueError(f"high={high!r}: must be > low={low!r}")
    half = (high - low) / 2
    return ToyDataset(f"box{dim}d", np.full((1, dim), (low + high) / 2), 2 * half / math.sqrt(12),
                      half, labelled=False)


def gauss1d(mean: float = 0.0, std: float = 1.0) -> ToyDataset:
    """N(mean, std²) in one dimension (one component, unlabelled)."""
    _positive(std=std)
    return ToyDataset("gauss1d", np.array([[mean]]), std, labelled=False)


DATASETS: dict[str, Callable[..., ToyDataset]] = {
    "ring": ring,
    "grid": grid,
    "mog1d": mog1d,
    "mog3d": mog3d,
    "cubes": cubes,
    "box": box,
    "gauss1d": gauss1d,
}
