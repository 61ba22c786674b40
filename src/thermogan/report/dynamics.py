"""Figures of tiny-GAN trajectories: states over time, the phase plane, amplitude against T."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

COLORS = {"θ (generator)": "tab:red", "ψ (discriminator)": "tab:green", "α (data)": "tab:blue"}


def _over_time(ax: Axes, t: np.ndarray, states: np.ndarray, title: str) -> None:
    for (label, color), column in zip(COLORS.items(), states.T):
        ax.plot(t, column, color=color, lw=1.2, label=label)
    ax.set_xlabel("t")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7, loc="upper right")
    ax.grid(alpha=0.3)


def _phase(ax: Axes, states: np.ndarray) -> None:
    ax.plot(states[:, 0], states[:, 1], color="black", lw=0.8)
    ax.plot(states[0, 0], states[0, 1], "o", color="tab:orange", label="start")
    ax.plot(states[-1, 0], states[-1, 1], "s", color="tab:purple", label="end")
    ax.set_xlabel("θ")
    ax.set_ylabel("ψ")
    ax.set_title("phase plane", fontsize=9)
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)


def trajectory_panel(t: np.ndarray, states: np.ndarray, title: str, path: str | Path) -> Path:
    """States over time (left) and the (θ, ψ) phase plane (right) of one system."""
    fig = Figure(figsize=(10, 3.6), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[2, 1])
    _over_time(left, t, states, title)
    _phase(right, states)
    fig.savefig(path, dpi=110)
    return Path(path)


def combined_panels(runs: list[tuple[str, np.ndarray, np.ndarray]], path: str | Path) -> Path:
    """All panels of ``trajectory_panel`` stacked, one row per (title, t, states)."""
    fig = Figure(figsize=(10, 3.3 * len(runs)), layout="constrained")
    axes = fig.subplots(len(runs), 2, width_ratios=[2, 1], squeeze=False)
    for (title, t, states), (left, right) in zip(runs, axes):
        _over_time(left, t, states, title)
        _phase(right, states)
    fig.savefig(path, dpi=100)
    return Path(path)


def amplitude_plot(T: np.ndarray, numeric: np.ndarray, path: str | Path,
                   curve: tuple[np.ndarray, np.ndarray] | None = None) -> Path:
    """Log–log plot of the steady oscillation amplitude against the annealing time T."""
    fig = Figure(figsize=(5, 4), layout="constrained")
    ax = fig.subplots()
    if curve is not None:
        ax.loglog(*curve, color="tab:blue", label="analytic |K| / sqrt(1 + 1/T²)")
    ax.loglog(T, numeric, "o", color="tab:red", label="numeric (solve_ivp)")
    ax.set_xlabel("annealing time constant T")
    ax.set_ylabel("steady oscillation amplitude of ψ")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8)
    fig.savefig(path, dpi=110)
    return Path(path)
