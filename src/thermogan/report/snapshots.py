"""Snapshots of what D saw as real against what G made, and the panels that show them.

Two kinds, each saved as ``figures/<kind>/step_N.npz`` when taken (so a resumed run keeps those
taken before the interruption):

- ``levels``: at the end of each temperature level and stage, as in the β-GAN papers' figures:
  heated data (blue) against G's samples (red), titled with β (and any other tempering's
  level) and the cumulative number of gradient evaluations Λ, counted as parameter updates
  (steps × (D steps + 1));
- ``snapshots``: every N steps (``eval.snapshot_every``), as the Tempered Adversarial Networks
  paper's Fig. 1 and 4: generated samples above what D saw (the lensed data L(x)), titled with
  the step and λ. The same data and latents are used at every snapshot.

Each snapshot keeps every tempering's ``describe()`` whole (``levels``: a JSON list, one dict per
tempering in order), as it was in the step that has just run; taking one changes nothing in the
run (no level, learning rate or random stream moves).
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import torch
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from torch import Tensor

from thermogan.nets.packed import pack_size
from thermogan.report.figures import (
    DATA_COLOR,
    SAMPLE_COLOR,
    add_footer,
    footer_height,
    save_figure,
)
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
        levels = [t.describe() for t in trainer.temperings]  # of the step that has just run
        info = {k: v for level in levels for k, v in level.items()}
        gen = torch.Generator(trainer.device).manual_seed(self.seed)
        with torch.no_grad():
            real = trainer.data.sample(self.n, gen, trainer.device).x  # (n, ...)
            seen = trainer.see(real, "real", generator=gen)
        fake = trainer.sample(self.n, self.seed)
        self.dir.mkdir(parents=True, exist_ok=True)
        np.savez(self.dir / f"step_{step:09d}.npz", real=seen.cpu().numpy(), fake=fake.numpy(),
                 step=step, updates=step * (trainer.d_steps + 1),
                 beta=info.get("beta", math.inf), stage=info.get("stage", 0),
                 weight=info.get("lambda", math.nan), levels=json.dumps(levels),
                 **d_on_grid(trainer, real))


def d_on_grid(trainer: Trainer, real: Tensor, size: int = 120,
              margin: float = 0.3) -> dict[str, np.ndarray]:
    """D's logits on a ``size`` × ``size`` grid over the real points' bounding box widened by
    ``margin`` of its span (``grid_x``, ``grid_y``: (size,); ``d_logits``: (size, size), rows
    along y), for 2-D points and an unconditional D; empty otherwise. D reads the grid as it
    reads its inputs, without the temperings (the contour lines are in data space); a packed D
    (PacGAN) judges each grid point as a pack of that many copies of it."""
    if real.ndim != 2 or real.shape[1] != 2 or trainer.num_classes is not None:
        return {}
    lo, hi = real.min(0).values, real.max(0).values  # (2,)
    pad = margin * (hi - lo).clamp_min(1e-3)
    xs, ys = (torch.linspace(float(lo[k] - pad[k]), float(hi[k] + pad[k]), size,
                             device=real.device) for k in range(2))
    grid = torch.stack(torch.meshgrid(xs, ys, indexing="xy"), -1).reshape(-1, 2)  # (size², 2)
    copies = pack_size(trainer.D)
    with torch.no_grad():
        logits = trainer.D(grid.repeat(copies, 1)).reshape(size, size)  # pack j: m × point j
    return {"grid_x": xs.cpu().numpy(), "grid_y": ys.cpu().numpy(),
            "d_logits": logits.cpu().numpy()}


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


CLIPS_3D = matplotlib.__version_info__ >= (3, 10)  # 3-D scatters clip to the limits since 3.10
LAMBDA_NOTE = ("Λ: the cumulative number of gradient evaluations, counted as parameter updates "
               "= steps × (D steps + 1)")
LIMITS_NOTE = ("x1, x2, …: the data's coordinates; the same limits in every panel "
               "(0.5–99.5 percentiles of all snapshots, with a margin)")


def _beta_label(beta: float) -> str:
    if beta == 0:
        return "β = 0 (uniform)"
    if math.isinf(beta):
        return "β = ∞ (data)"
    return f"β = {beta:.3g}"


def _title(shot: dict[str, np.ndarray]) -> str:
    """β, each other tempering's level (a blur's σ, a lens's λ) and Λ."""
    levels = json.loads(str(shot["levels"])) if "levels" in shot else []
    others = [f"{k} = {v:.3g}" for level in levels for k, v in level.items()
              if k not in ("beta", "stage", "level")]
    return "\n".join([", ".join([_beta_label(float(shot["beta"])), *others]),
                      f"Λ = {int(shot['updates']):,}"])


def _lambda_note(shots: list[dict[str, np.ndarray]]) -> str:
    """What Λ counts, with the run's number of D steps per step when the snapshots agree on it."""
    per_step = {int(s["updates"]) // int(s["step"]) for s in shots if int(s["step"]) > 0}
    if len(per_step) != 1:
        return LAMBDA_NOTE
    d_steps = per_step.pop() - 1
    return f"{LAMBDA_NOTE}; here {d_steps} D step{'s' if d_steps != 1 else ''} per step"


def _seen_label(shots: list[dict[str, np.ndarray]]) -> str:
    """The legend's name for what D saw: heated data when some level has a finite β."""
    heated = any(math.isfinite(float(s["beta"])) for s in shots)
    return "what D saw as real (heated data)" if heated else "what D saw as real"


def level_panel(run_dir: str | Path, path: str | Path | None = None, cols: int = 6,
                title: str | None = None, most: int = 12) -> Path | None:
    """One figure with the run's level snapshots, in order (at most ``most``, spread evenly, the
    first and the last kept; the caption says so); None when there is none.

    Points: what D saw (blue) against G's samples (red), with the same limits in every panel.
    Images: a grid of G's samples per snapshot in ``levels.png`` (as the β-GAN paper's Fig. 3)
    and what D saw in ``levels_seen.png``. The figure is titled with ``title`` (by default the
    run directory's name) and its caption says what Λ counts.
    """
    every = _shots(run_dir, "levels")
    if not every:
        return None
    shots = evenly(every, most)
    out = Path(path) if path else Path(run_dir) / "figures" / "levels.png"
    name = title if title is not None else Path(run_dir).resolve().name
    note, seen = _lambda_note(every), _seen_label(every)
    if len(shots) < len(every):
        note += f". Drawn: {len(shots)} of the {len(every)} level ends, spread evenly"
    if shots[0]["real"].ndim == 4:  # images (n, C, H, W)
        image_panels([(_title(s), s["fake"]) for s in shots], out, cols,
                     f"{name}: G's samples at the end of each temperature level", caption=note)
        image_panels([(_title(s), s["real"]) for s in shots], out.with_name(f"{out.stem}_seen.png"),
                     cols, f"{name}: {seen} at the end of each temperature level", caption=note)
        return out
    return point_panels(shots, out, [_title(s) for s in shots], cols,
                        title=f"{name}: what D saw against G's samples at the end of each level",
                        caption=f"{note}.\n{LIMITS_NOTE}.", labels=(seen, "G's samples"))


def shared_limits(shots: list[dict[str, np.ndarray]], dims: int, low: float = 0.5,
                  high: float = 99.5, margin: float = 0.08) -> list[tuple[float, float]]:
    """Axis limits of the first ``dims`` coordinates over every snapshot's real and fake points:
    the ``low``–``high`` percentiles widened by ``margin`` of their span on each side, so that a
    few outliers do not squash the view."""
    limits = []
    for j in range(dims):
        values = np.concatenate([s[key][:, j] for s in shots for key in ("real", "fake")])
        values = values[np.isfinite(values)]
        lo, hi = np.percentile(values, [low, high]) if values.size else (-1.0, 1.0)
        pad = margin * (hi - lo) if hi > lo else 0.5
        limits.append((float(lo - pad), float(hi + pad)))
    return limits


def _draw_points(ax: Axes, shot: dict[str, np.ndarray], limits: list[tuple[float, float]]) -> None:
    """What D saw (blue) and G's samples (red) in one panel, within ``limits``: a histogram for
    one coordinate, a scatter for two, a 3-D scatter for three."""
    real, fake = shot["real"], shot["fake"]
    if len(limits) == 1:
        bins = np.linspace(*limits[0], 60)
        ax.hist(real[:, 0], bins, color=DATA_COLOR, alpha=0.5, density=True)
        ax.hist(fake[:, 0], bins, color=SAMPLE_COLOR, alpha=0.5, density=True)
        ax.set_ylabel("density", fontsize=7)
    else:
        size, alpha = (4, 0.7) if len(limits) == 3 else (1, 0.4)
        clip = {"axlim_clip": True} if len(limits) == 3 and CLIPS_3D else {}  # hide outliers
        for points, color in ((real, DATA_COLOR), (fake, SAMPLE_COLOR)):
            ax.scatter(*points[:, :len(limits)].T, s=size, c=color, alpha=alpha, linewidths=0,
                       **clip)
    pad = -4 if len(limits) == 3 else 1
    if len(limits) == 3:
        ax.set_box_aspect(None, zoom=0.85)  # else the z label falls outside the panel
    for k, (axis, (lo, hi)) in enumerate(zip("xyz", limits)):
        getattr(ax, f"set_{axis}lim")(lo, hi)
        getattr(ax, f"set_{axis}label")(f"x{k + 1}", fontsize=7, labelpad=pad)
    if len(limits) == 2:  # a circle stays a circle: one unit is as long on both axes
        ax.set_aspect("equal", adjustable="box")
    ax.tick_params(labelsize=6, pad=0 if len(limits) == 3 else 2)


def _legend_handles(labels: tuple[str, str], histogram: bool) -> list[Artist]:
    """Legend entries for what D saw (blue) and G's samples (red): patches or dots."""
    if histogram:
        return [Patch(facecolor=color, alpha=0.5, label=label)
                for color, label in zip((DATA_COLOR, SAMPLE_COLOR), labels)]
    return [Line2D([], [], ls="", marker="o", ms=5, color=color, label=label)
            for color, label in zip((DATA_COLOR, SAMPLE_COLOR), labels)]


def point_panels(shots: list[dict[str, np.ndarray]], out: Path, titles: list[str],
                 cols: int = 6, *, title: str = "", caption: str = "",
                 labels: tuple[str, str] = ("what D saw as real", "G's samples")) -> Path:
    """One panel per snapshot of vector data: what D saw (blue) against G's samples (red); a
    histogram for 1-D data, a 3-D scatter for 3-D data, the first two coordinates otherwise.

    Every panel has the same limits (``shared_limits``) and labelled axes; the figure has one
    legend (``labels``) under its ``title`` and a ``caption`` at the bottom.
    """
    dim = shots[0]["real"].shape[1]
    limits = shared_limits(shots, dim if dim <= 3 else 2)
    if dim > 3:
        caption = "\n".join(filter(None, [caption, f"Drawn: the first two of {dim} coordinates."]))
    across = min(cols, len(shots))
    rows = math.ceil(len(shots) / across)
    width = max(2.6 * across, 6.0)
    height = 3.2 * rows + 0.3 * bool(title) + footer_height(caption, width, legend=True)
    fig = Figure(figsize=(width, height), layout="constrained")
    for i, (shot, name) in enumerate(zip(shots, titles)):
        ax = fig.add_subplot(rows, across, i + 1, projection="3d" if len(limits) == 3 else None)
        _draw_points(ax, shot, limits)
        ax.set_title(name, fontsize=8, y=0.93 if len(limits) == 3 else None)  # 3-D: in the box
    if len(limits) == 3:  # the layout sees neither a 3-D panel's title nor its z label
        fig.get_layout_engine().set(w_pad=0.15, h_pad=0.12)
    if title:
        fig.suptitle(title, fontsize=10)
    add_footer(fig, caption, _legend_handles(labels, len(limits) == 1))
    return save_figure(fig, out, dpi=110)


def evenly(items: list, most: int) -> list:
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
    columns = evenly(rows[0][1], most)
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


def snapshot_panel(run_dir: str | Path, title: str | None = None) -> Path | None:
    """``figures/snapshots.png``: generated samples (top) over what D saw (bottom), by step; for
    vector data, one panel per snapshot of what D saw against the samples, titled with ``title``
    (by default the run directory's name).

    For a lens these are G(z) and L(x) as training goes (Sajjadi et al. 2018, Fig. 1 and 4).
    None when the run took no periodic snapshots.
    """
    shots = load_shots(run_dir)
    if not shots:
        return None
    out = Path(run_dir) / "figures" / "snapshots.png"
    lensed = not math.isnan(float(shots[0]["weight"]))
    if shots[0]["real"].ndim != 4:
        name = title if title is not None else Path(run_dir).resolve().name
        return _vector_snapshots(shots, out, name, lensed)
    return snapshot_rows([("generated G(z)", shots, "fake"),
                          ("lensed data L(x)" if lensed else "what D saw as real", shots, "real")],
                         out)


def _vector_snapshots(shots: list[dict[str, np.ndarray]], out: Path, name: str,
                      lensed: bool) -> Path:
    """``snapshots.png`` of vector data: at most 12 snapshots, one panel each, titled with the
    step and, for a lens, λ."""
    titles = [f"step {int(s['step']):,}" + ("" if math.isnan(float(s["weight"])) else
                                             f", λ = {float(s['weight']):.2f}") for s in shots]
    caption = LIMITS_NOTE + "."
    if lensed:
        caption = f"λ: the weight of the lens's adversarial term, decaying to 0.\n{caption}"
    seen = "lensed data L(x), what D saw as real" if lensed else "what D saw as real"
    return point_panels(evenly(shots, 12), out, evenly(titles, 12),
                        title=f"{name}: what D saw against G's samples during training",
                        caption=caption, labels=(seen, "G's samples"))
