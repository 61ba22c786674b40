"""Samples per class over training: the Langevin-stabilised GAN's Fig. 2, a class-conditional
generator G(z | c) (Mirza & Osindero 2014) drawn for every class at several points of training.

The points of training are the run's kept checkpoints (``train.keep_checkpoints``:
``checkpoints/step_N.pt``, and ``latest.pt`` when it is newer). At each, the same ``per_class``
latents are drawn for every class (``Trainer.sample(k, seed, labels=c)``), so a column of a block
is one z under each label, and a block's cell is the same z at every step.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from thermogan.report.figures import add_footer, footer_height, save_figure
from thermogan.report.images import show_images
from thermogan.report.snapshots import evenly
from thermogan.train.checkpoint import load_checkpoint
from thermogan.train.trainer import Trainer

Shot = tuple[int, np.ndarray]  # (step, samples (classes, per_class, C, H, W))


def class_samples(trainer: Trainer, per_class: int, seed: int) -> np.ndarray:
    """(classes, per_class, C, H, W): the same ``per_class`` latents under every class."""
    if trainer.num_classes is None:
        raise ValueError("samples per class need a class-conditional generator "
                         "(model.conditional: true)")
    return np.stack([trainer.sample(per_class, seed, labels=c).numpy()
                     for c in range(trainer.num_classes)])


def kept_checkpoints(run_dir: str | Path) -> list[Path]:
    """The run's ``step_N.pt`` in step order, then ``latest.pt``."""
    folder = Path(run_dir) / "checkpoints"
    steps = sorted(folder.glob("step_*.pt"), key=lambda p: int(re.sub(r"\D", "", p.stem)))
    return steps + [p for p in [folder / "latest.pt"] if p.exists()]


def samples_over_training(trainer: Trainer, run_dir: str | Path, per_class: int = 4,
                          seed: int = 0) -> list[Shot]:
    """(step, ``class_samples``) at each kept checkpoint of ``run_dir`` (``latest.pt`` when it
    adds a step), loaded into ``trainer``, a Trainer built from the run's config."""
    shots: list[Shot] = []
    for path in kept_checkpoints(run_dir):
        trainer.load_state_dict(load_checkpoint(path))
        if not shots or trainer.step > shots[-1][0]:
            shots.append((trainer.step, class_samples(trainer, per_class, seed)))
    return shots


def class_grid(rows: list[tuple[str, list[Shot]]], path: str | Path, title: str = "",
               caption: str = "", most: int = 6) -> Path:
    """One block per (row, step): classes top to bottom, ``per_class`` samples across; one row of
    blocks per labelled run, at most ``most`` steps each (spread evenly over its shots)."""
    rows = [(label, evenly(shots, most)) for label, shots in rows]
    cols = max(len(shots) for _, shots in rows)
    first = rows[0][1][0][1]  # (classes, per_class, C, H, W)
    classes, per_class, height = first.shape[0], first.shape[1], first.shape[-2]
    cell_w, cell_h = 0.32 * per_class + 0.15, 0.32 * classes + 0.35
    width = cell_w * cols + 0.5
    fig = Figure(figsize=(width, cell_h * len(rows) + (0.4 if title else 0)
                          + footer_height(caption, width)), layout="constrained")
    axes = fig.subplots(len(rows), cols, squeeze=False)
    for r, (label, shots) in enumerate(rows):
        for c in range(cols):
            ax = axes[r, c]
            if c >= len(shots):
                ax.set_axis_off()
                continue
            step, samples = shots[c]
            show_images(ax, samples.reshape(-1, *samples.shape[2:]), f"step {step:,}",
                        cols=per_class)
        _label_rows(axes[r, 0], label, classes, height)
    if title:
        fig.suptitle(title, fontsize=10)
    if caption:
        add_footer(fig, caption)
    return save_figure(fig, path, dpi=110)


def _label_rows(ax: Axes, label: str, classes: int, height: int) -> None:
    """The class of each row of tiles left of the block, and the run's label left of those."""
    tile = height + 1
    for k in range(classes):
        ax.text(-2, 1 + k * tile + tile / 2, str(k), ha="right", va="center", fontsize=7)
    ax.text(-0.2, 0.5, label, transform=ax.transAxes, rotation=90, ha="right", va="center",
            fontsize=9)
