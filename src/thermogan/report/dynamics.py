"""Figures of tiny-GAN trajectories: states over time, the phase plane, amplitude against T.

The tiny GAN (Mehrjou & Schölkopf 2018) has three states: the generator's θ, the discriminator's
ψ and the data's α, annealed towards α_r. Labels are written in mathtext, legends sit outside the
axes so that they never cover a curve.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

COLORS = {r"$\theta$ (generator)": "tab:red", r"$\psi$ (discriminator)": "tab:green",
          r"$\alpha$ (data)": "tab:blue"}
FIGURE1_TITLE = ("Tiny GAN as a dynamical system (Mehrjou & Schölkopf 2018, Fig. 1): "
                 r"generator $\theta$, discriminator $\psi$, data $\alpha$")
OUTSIDE = {"loc": "upper left", "bbox_to_anchor": (1.02, 1.0), "borderaxespad": 0.0}
GREEK = {"α": r"\alpha", "β": r"\beta", "θ": r"\theta", "ψ": r"\psi", "λ": r"\lambda"}


def mathtext(text: str) -> str:
    """``text`` with each subscripted one-letter name (``α_r``, ``α_0``, ``x_1``) written in
    mathtext, so that it is drawn as a subscript: "α = α_r" becomes "α = $\\alpha_{r}$"."""
    def math(match: re.Match) -> str:
        name = GREEK.get(match[1], match[1])
        return f"${name}_{{{match[2]}}}$"
    return re.sub(r"(?<!\w)([^\W\d_])_([^\W_]+)", math, text)  # one letter, then _ and a name


def _over_time(ax: Axes, t: np.ndarray, states: np.ndarray, title: str) -> None:
    for (label, color), column in zip(COLORS.items(), states.T):
        ax.plot(t, column, color=color, lw=1.2, label=label)
    ax.set_xlabel("time t")
    ax.set_ylabel(r"state $\theta$, $\psi$, $\alpha$")
    ax.set_title(mathtext(title), fontsize=9)
    ax.legend(fontsize=7, **OUTSIDE)
    ax.grid(alpha=0.3)


def _phase(ax: Axes, states: np.ndarray) -> None:
    ax.plot(states[:, 0], states[:, 1], color="black", lw=0.8, label="trajectory")
    ax.plot(states[0, 0], states[0, 1], "o", color="tab:orange", label="start")
    ax.plot(states[-1, 0], states[-1, 1], "s", color="tab:purple", label="end")
    ax.set_xlabel(r"generator $\theta$")
    ax.set_ylabel(r"discriminator $\psi$")
    ax.set_title(r"phase plane $(\theta, \psi)$", fontsize=9)
    ax.legend(fontsize=7, **OUTSIDE)
    ax.grid(alpha=0.3)


def trajectory_panel(t: np.ndarray, states: np.ndarray, title: str, path: str | Path) -> Path:
    """States over time (left) and the (θ, ψ) phase plane (right) of one system, under
    ``title``."""
    fig = Figure(figsize=(11, 3.8), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[2, 1])
    _over_time(left, t, states, "states over time")
    _phase(right, states)
    fig.suptitle(f"Tiny GAN: {mathtext(title)}", fontsize=10)
    fig.savefig(path, dpi=110)
    return Path(path)


def combined_panels(runs: list[tuple[str, np.ndarray, np.ndarray]], path: str | Path,
                    title: str = FIGURE1_TITLE) -> Path:
    """All panels of ``trajectory_panel`` stacked, one row per (title, t, states), under
    ``title``."""
    fig = Figure(figsize=(11, 3.3 * len(runs) + 0.4), layout="constrained")
    axes = fig.subplots(len(runs), 2, width_ratios=[2, 1], squeeze=False)
    for (name, t, states), (left, right) in zip(runs, axes):
        _over_time(left, t, states, name)
        _phase(right, states)
    fig.suptitle(title, fontsize=11)
    fig.savefig(path, dpi=100)
    return Path(path)


def amplitude_plot(T: np.ndarray, numeric: np.ndarray, path: str | Path,
                   curve: tuple[np.ndarray, np.ndarray] | None = None) -> Path:
    """Log–log plot of the steady oscillation amplitude against the annealing time T."""
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    if curve is not None:
        ax.loglog(*curve, color="tab:blue", label=r"analytic $|K| / \sqrt{1 + 1/T^2}$")
    ax.loglog(T, numeric, "o", color="tab:red", label="numeric (solve_ivp)")
    ax.set_xlabel("annealing time constant T")
    ax.set_ylabel(r"steady oscillation amplitude of $\psi$")
    ax.grid(alpha=0.3, which="both")
    ax.legend(fontsize=8, **OUTSIDE)
    fig.suptitle(r"Tiny GAN: steady oscillation amplitude of $\psi$ against the annealing time T",
                 fontsize=10)
    fig.savefig(path, dpi=110)
    return Path(path)
