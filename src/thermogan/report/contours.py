"""D's contour lines over G's samples at three points of training, and an SGLD D's noise level
over time: the Langevin-stabilised GAN's Fig. 1 (samples with the discriminator's lines after
20k, 40k and 60k iterations, and the covariance-controlled noise falling; docs/langevin.md).

Read from a run's periodic snapshots of 2-D data (``eval.snapshot_every``; each holds D's logits
on a grid, ``snapshots.d_on_grid``) and its metrics.jsonl (``d_noise_std``, ``d_sqrt_variance``,
logged by an SGLD D).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.lines import Line2D

from thermogan.report.curves import logged
from thermogan.report.figures import DATA_COLOR, SAMPLE_COLOR, add_footer, save_figure
from thermogan.report.snapshots import load_shots

CAPTION = ("Lines: D's logit (contour lines, labelled) on the data plane; blue: the data as D "
           "saw it, red: G's samples (the evaluation latents). Noise: the mean std of the noise "
           "injected into D's weights per step and the mean √I_t, the averaged per-example "
           "gradient std that scales it (covariance noise) or is subtracted (ccadl).")


def thirds(shots: list[dict[str, np.ndarray]]) -> list[dict[str, np.ndarray]]:
    """The snapshots at a third, two thirds and the end of the run's snapshots (fewer if the run
    has fewer)."""
    n = len(shots)
    picks = sorted({max(round(k * n / 3) - 1, 0) for k in (1, 2, 3)})
    return [shots[i] for i in picks]


def contour_panel(run_dir: str | Path, path: str | Path | None = None,
                  title: str | None = None) -> Path | None:
    """``figures/contours.png``: the Fig. 1 of a 2-D run; None when its snapshots hold no grid of
    D's logits."""
    shots = [s for s in load_shots(run_dir) if "d_logits" in s]
    if not shots:
        return None
    chosen = thirds(shots)
    noise = [(label, *logged(run_dir, key)) for label, key in
             (("injected noise std", "d_noise_std"), ("mean √I_t", "d_sqrt_variance"))]
    # a log scale needs a positive value (an SGLD D at temperature 0 logs a noise std of 0)
    noise = [(label, s, v) for label, s, v in noise if (np.isfinite(v) & (v > 0)).any()]
    panels = len(chosen) + bool(noise)
    fig = Figure(figsize=(3.3 * panels, 3.9), layout="constrained")
    axes = fig.subplots(1, panels, squeeze=False)[0]
    for ax, shot in zip(axes, chosen):
        _draw_contours(ax, shot)
    if noise:
        _draw_noise(axes[-1], noise)
    name = title if title is not None else Path(run_dir).resolve().name
    fig.suptitle(f"{name}: D's contour lines over G's samples, and D's noise", fontsize=10)
    handles = [Line2D([], [], ls="", marker="o", ms=5, color=c, label=lab)
               for c, lab in ((DATA_COLOR, "data as D saw it"), (SAMPLE_COLOR, "G's samples"))]
    add_footer(fig, CAPTION, handles)
    out = Path(path) if path else Path(run_dir) / "figures" / "contours.png"
    return save_figure(fig, out, dpi=110)


def _draw_contours(ax, shot: dict[str, np.ndarray]) -> None:
    x, y, logits = shot["grid_x"], shot["grid_y"], shot["d_logits"]
    lines = ax.contour(x, y, logits, levels=8, cmap="viridis", linewidths=0.8)
    ax.clabel(lines, fontsize=5, fmt="%.2g")
    ax.scatter(*shot["real"][:, :2].T, s=1, c=DATA_COLOR, alpha=0.3, linewidths=0)
    ax.scatter(*shot["fake"][:, :2].T, s=1, c=SAMPLE_COLOR, alpha=0.5, linewidths=0)
    ax.set_xlim(x[0], x[-1])
    ax.set_ylim(y[0], y[-1])
    ax.set_aspect("equal")
    ax.set_title(f"step {int(shot['step']):,}", fontsize=8)
    ax.set_xlabel("x1", fontsize=7)
    ax.set_ylabel("x2", fontsize=7)
    ax.tick_params(labelsize=6)


def _draw_noise(ax, noise: list[tuple[str, np.ndarray, np.ndarray]]) -> None:
    for label, steps, values in noise:
        ax.plot(steps, values, lw=1, label=label)
    ax.set_yscale("log")
    ax.set_xlabel("training step", fontsize=7)
    ax.set_ylabel("per weight, per step", fontsize=7)
    ax.set_title("D's noise level", fontsize=8)
    ax.legend(fontsize=6)
    ax.grid(alpha=0.3)
    ax.tick_params(labelsize=6)
