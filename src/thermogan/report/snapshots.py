"""Snapshots of what D saw as real against what G made, and the panels that show them.

Two kinds, each saved as ``figures/<kind>/step_N.npz`` when taken (so a resumed run keeps those
taken before the interruption):

- ``levels``: at the end of each temperature level and stage, as in the β-GAN papers' figures:
  heated data (blue) against G's samples (red), titled with β and the cumulative number of
  gradient evaluations Λ, counted as parameter updates (steps × (D steps + 1));
- ``snapshots``: every N steps (``eval.snapshot_every``), as the Tempered Adversarial Networks
  paper's Fig. 1 and 4: generated samples above what D saw (the lensed data L(x)), titled with
  the step and λ. The same data and latents are used at every snapshot.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from thermogan.report.figures import DATA_COLOR, SAMPLE_COLOR, save_figure
from thermogan.report.images import image_panels, show_images
from thermogan.train.trainer import Trainer


class Snapshots:
    """A training callback: saves ``n`` tempered data points and ``n`` samples when ``due``."""

    def __init__(self, folder: Path, due: Callable[[Trainer], bool], n: int, seed: int):
        self.dir, self.due, self.n, self.seed = folder, due, n, seed

    def __call__(self, trainer: Trainer) -> None:
        if not self.due(trainer):
            return
        step = trainer.step
        trainer.set_levels(step - 1)  # the levels of the step that has just run
        gen = torch.Generator(trainer.device).manual_seed(self.seed)
        with torch.no_grad():
            real = trainer.data.sample(self.n, gen, trainer.device).x  # (n, ...)
            seen = trainer.see(real, "real", generator=gen)
        fake = trainer.sample(self.n, self.seed)
        info = trainer.describe()
        self.dir.mkdir(parents=True, exist_ok=True)
        np.savez(self.dir / f"step_{step:09d}.npz", real=seen.cpu().numpy(), fake=fake.numpy(),
                 step=step, updates=step * (trainer.d_steps + 1),
                 beta=info.get("beta", math.inf), stage=info.get("stage", 0),
                 weight=info.get("lambda", math.nan))


def level_snapshots(run_dir: str | Path, total_steps: int, n: int = 1000,
                    seed: int = 0) -> Snapshots:
    """Snapshots whenever the tempering's (stage, level) changes, and at the end."""
    def due(trainer: Trainer) -> bool:
        step = trainer.step
        return step == total_steps or trainer.level_key(step) != trainer.level_key(step - 1)
    return Snapshots(Path(run_dir) / "figures" / "levels", due, n, seed)


def periodic_snapshots(run_dir: str | Path, every: int, total_steps: int, n: int = 16,
                       seed: int = 0) -> Snapshots:
    """Snapshots every ``every`` steps and at the end."""
    def due(trainer: Trainer) -> bool:
        return trainer.step % every == 0 or trainer.step == total_steps
    return Snapshots(Path(run_dir) / "figures" / "snapshots", due, n, seed)


def _shots(run_dir: str | Path, kind: str) -> list[dict[str, np.ndarray]]:
    return [dict(np.load(f)) for f in sorted((Path(run_dir) / "figures" / kind).glob("step_*.npz"))]


def _beta_label(beta: float) -> str:
    if beta == 0:
        return "β = 0 (uniform)"
    if math.isinf(beta):
        return "β = ∞ (data)"
    return f"β = {beta:.3g}"


def _title(shot: dict[str, np.ndarray]) -> str:
    return f"{_beta_label(float(shot['beta']))}\nΛ = {int(shot['updates']):,}"


def level_panel(run_dir: str | Path, path: str | Path | None = None, cols: int = 6) -> Path | None:
    """One figure with every snapshot of the run, in order; None when there is none.

    Points: what D saw (blue) against G's samples (red). Images: a grid of G's samples per
    snapshot in ``levels.png`` (as the β-GAN paper's Fig. 3) and what D saw in ``levels_seen.png``.
    """
    shots = _shots(run_dir, "levels")
    if not shots:
        return None
    out = Path(path) if path else Path(run_dir) / "figures" / "levels.png"
    if shots[0]["real"].ndim == 4:  # images (n, C, H, W)
        image_panels([(_title(s), s["fake"]) for s in shots], out, cols,
                     "generated samples at the end of each temperature level")
        image_panels([(_title(s), s["real"]) for s in shots], out.with_name(f"{out.stem}_seen.png"),
                     cols, "what D saw as real (heated data) at each level")
        return out
    return point_panels(shots, out, [_title(s) for s in shots], cols)


def point_panels(shots: list[dict[str, np.ndarray]], out: Path, titles: list[str],
                 cols: int = 6) -> Path:
    """One panel per snapshot of vector data: what D saw (blue) against G's samples (red); a
    histogram for 1-D data, a 3-D scatter for 3-D data."""
    dim = shots[0]["real"].shape[1]
    rows = math.ceil(len(shots) / cols)
    fig = Figure(figsize=(2.6 * min(cols, len(shots)), 2.7 * rows), layout="constrained")
    for i, (shot, title) in enumerate(zip(shots, titles)):
        ax = fig.add_subplot(rows, min(cols, len(shots)), i + 1,
                             projection="3d" if dim == 3 else None)
        real, fake = shot["real"], shot["fake"]
        if dim == 1:
            bins = np.linspace(min(real.min(), fake.min()), max(real.max(), fake.max()), 60)
            ax.hist(real[:, 0], bins, color=DATA_COLOR, alpha=0.5, density=True)
            ax.hist(fake[:, 0], bins, color=SAMPLE_COLOR, alpha=0.5, density=True)
        else:
            size, alpha = (4, 0.7) if dim == 3 else (1, 0.4)
            ax.scatter(*real[:, :3].T, s=size, c=DATA_COLOR, alpha=alpha, linewidths=0)
            ax.scatter(*fake[:, :3].T, s=size, c=SAMPLE_COLOR, alpha=alpha, linewidths=0)
        ax.set_title(title, fontsize=8)
        ax.tick_params(labelsize=6)
    return save_figure(fig, out, dpi=110)


def _evenly(items: list, most: int) -> list:
    """At most ``most`` items spread evenly from first to last."""
    if len(items) <= most:
        return items
    return [items[round(i * (len(items) - 1) / (most - 1))] for i in range(most)]


def load_shots(run_dir: str | Path) -> list[dict[str, np.ndarray]]:
    """The periodic snapshots of a run (``eval.snapshot_every``), in order."""
    return _shots(run_dir, "snapshots")


def snapshot_rows(rows: list[tuple[str, list[dict[str, np.ndarray]], str]], path: str | Path,
                  title: str = "", most: int = 8) -> Path:
    """A grid of image tiles: one row per (label, snapshots, "fake" or "real"), one column per
    step of the first row's snapshots (at most ``most``, spread evenly), titled with the step and
    λ; a row without a snapshot at that step leaves the cell empty."""
    columns = _evenly(rows[0][1], most)
    fig = Figure(figsize=(1.9 * len(columns) + 0.6, 2.2 * len(rows) + (0.4 if title else 0)),
                 layout="constrained")
    axes = fig.subplots(len(rows), len(columns), squeeze=False)
    for r, (label, shots, key) in enumerate(rows):
        by_step = {int(s["step"]): s for s in shots}
        for c, column in enumerate(columns):
            ax, step = axes[r, c], int(column["step"])
            weight = float(column["weight"])
            name = "" if r else f"step {step:,}" + ("" if math.isnan(weight) else
                                                     f"\nλ = {weight:.2f}")
            if step in by_step:
                show_images(ax, by_step[step][key], name)
            else:
                ax.set_axis_off()
        axes[r, 0].text(-0.08, 0.5, label, transform=axes[r, 0].transAxes, rotation=90,
                        ha="right", va="center", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path, dpi=110)


def snapshot_panel(run_dir: str | Path) -> Path | None:
    """``figures/snapshots.png``: generated samples (top) over what D saw (bottom), by step; for
    vector data, one panel per snapshot of what D saw against the samples.

    For a lens these are G(z) and L(x) as training goes (Sajjadi et al. 2018, Fig. 1 and 4).
    None when the run took no periodic snapshots.
    """
    shots = load_shots(run_dir)
    if not shots:
        return None
    out = Path(run_dir) / "figures" / "snapshots.png"
    if shots[0]["real"].ndim != 4:
        titles = [f"step {int(s['step']):,}" + ("" if math.isnan(float(s["weight"])) else
                                                 f", λ = {float(s['weight']):.2f}")
                  for s in shots]
        return point_panels(_evenly(shots, 12), out, _evenly(titles, 12))
    lensed = not math.isnan(float(shots[0]["weight"]))
    return snapshot_rows([("generated G(z)", shots, "fake"),
                          ("lensed data L(x)" if lensed else "what D saw as real", shots, "real")],
                         Path(run_dir) / "figures" / "snapshots.png")
