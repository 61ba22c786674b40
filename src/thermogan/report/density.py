"""Figures of a sampler against an unnormalised density: the target exp(−U) as an image (grey)
with the samples on it (red), as the variational-annealing slides' Fig. 6 shows them (Tao et al.
2019; energies of Rezende & Mohamed 2015).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from thermogan.report.figures import SAMPLE_COLOR, save_figure

SHOWN = 3000  # samples drawn on a panel (more hide the target)


def target_image(data: object, half: float, size: int = 200) -> np.ndarray:
    """exp(−(U − min U)) (size, size) on [−half, half]², rows along z₂ (for ``imshow``)."""
    axis = torch.linspace(-half, half, size, dtype=torch.float64)
    z2, z1 = torch.meshgrid(axis, axis, indexing="ij")
    with torch.no_grad():
        u = data.energy(torch.stack([z1.ravel(), z2.ravel()], 1)).reshape(size, size).numpy()
    return np.exp(-(u - u.min()))


def draw_target(ax: Axes, data: object, half: float, samples: np.ndarray | None = None,
                color: str = SAMPLE_COLOR) -> None:
    """The target's density on [−half, half]² and, when given, up to SHOWN samples on it."""
    ax.imshow(target_image(data, half), extent=(-half, half, -half, half), origin="lower",
              cmap="Greys", interpolation="bilinear")
    if samples is not None:
        shown = np.asarray(samples)[:SHOWN]
        ax.scatter(shown[:, 0], shown[:, 1], s=1.5, c=color, alpha=0.35, linewidths=0)
    ax.set_xlim(-half, half)
    ax.set_ylim(-half, half)
    ax.set_aspect("equal")
    ax.tick_params(labelsize=7)


def density_vs_samples(data: object, samples: np.ndarray, path: str | Path,
                       title: str = "", half: float = 4.0) -> Path:
    """One panel: the target density (grey) with the samples (red) on it."""
    fig = Figure(figsize=(4.6, 4.9), layout="constrained")
    ax = fig.subplots()
    draw_target(ax, data, half, samples)
    ax.set_xlabel("z1")
    ax.set_ylabel("z2")
    ax.legend(handles=[Line2D([], [], ls="", marker="s", color="0.4", label="target exp(−U)"),
                       Line2D([], [], ls="", marker="o", color=SAMPLE_COLOR, label="samples")],
              loc="upper right", fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)
