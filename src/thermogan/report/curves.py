"""Curves of a metric over training steps, one line per run, with optional smoothed overlays."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure


def metric_curves(curves: Sequence[tuple[str, np.ndarray, np.ndarray]], path: str | Path, *,
                  ylabel: str, title: str = "",
                  smooth: Sequence[np.ndarray | None] | None = None,
                  marks: Sequence[float | None] | None = None, log_y: bool = False) -> Path:
    """Plot each (label, steps, values); ``smooth[i]`` is drawn over curve i in the same colour
    (the raw curve then pale), ``marks[i]`` a dashed vertical line at that step (a knee)."""
    fig = Figure(figsize=(7.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for i, (label, steps, values) in enumerate(curves):
        color = f"C{i % 10}"
        filtered = smooth[i] if smooth is not None else None
        ax.plot(steps, values, color=color, lw=1, alpha=0.35 if filtered is not None else 1,
                label=label if filtered is None else None)
        if filtered is not None:
            ax.plot(steps, filtered, color=color, lw=1.8, label=label)
        if marks is not None and marks[i] is not None:
            ax.axvline(marks[i], color=color, ls="--", lw=0.9)
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    if log_y:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    return path
