"""Figures of images: grids of samples, side by side, each under a title.

Images are (N, C, H, W) arrays in [−1, 1] with C = 1 (grey) or 3 (RGB); they are tiled into one
picture per grid with a one-pixel light border between tiles.
"""

from __future__ import annotations

import math
import textwrap
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure

from thermogan.report.figures import add_footer, footer_height, save_figure


def tile(images: np.ndarray, cols: int | None = None) -> np.ndarray:
    """One picture (rows·(H+1)+1, cols·(W+1)+1, C) in [0, 1] holding every image of (N, C, H, W)."""
    images = np.asarray(images, dtype=np.float32)
    n, c, h, w = images.shape
    cols = cols or math.ceil(math.sqrt(n))
    rows = math.ceil(n / cols)
    out = np.full((rows * (h + 1) + 1, cols * (w + 1) + 1, c), 0.85, dtype=np.float32)
    pixels = np.clip((images + 1) / 2, 0, 1).transpose(0, 2, 3, 1)  # (N, H, W, C)
    for i, image in enumerate(pixels):
        r, q = divmod(i, cols)
        out[1 + r * (h + 1): 1 + r * (h + 1) + h, 1 + q * (w + 1): 1 + q * (w + 1) + w] = image
    return out


def show_images(ax, images: np.ndarray, title: str, cols: int | None = None) -> None:
    picture = tile(images, cols)
    if picture.shape[2] == 1:
        ax.imshow(picture[..., 0], cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    else:
        ax.imshow(picture, interpolation="nearest")
    ax.set_title(title, fontsize=8)
    ax.set_axis_off()


def image_panels(panels: list[tuple[str, np.ndarray]], path: str | Path, cols: int = 6,
                 title: str = "", size: float = 2.6, caption: str = "") -> Path:
    """A figure of grids, ``cols`` grids per row, each (title, images (N, C, H, W)), under a
    figure ``title`` and above a small ``caption`` (each when given)."""
    cols = min(cols, len(panels))
    rows = math.ceil(len(panels) / cols)
    height = (size + 0.35) * rows + (0.4 if title else 0)
    height += footer_height(caption, size * cols) if caption else 0
    fig = Figure(figsize=(size * cols, height), layout="constrained")
    for i, (name, images) in enumerate(panels):
        show_images(fig.add_subplot(rows, cols, i + 1), images, name)
    if title:
        fig.suptitle(textwrap.fill(title, max(30, int(size * cols * 13))), fontsize=10)
    if caption:
        add_footer(fig, caption)
    return save_figure(fig, path, dpi=110)


def class_rows(samples: np.ndarray, classes: list[int], path: str | Path, title: str = "") -> Path:
    """One row of images per class: ``samples`` (R·k, C, H, W) holds k images of each of the R
    ``classes`` in order; each row is labelled with its class."""
    k = len(samples) // len(classes)
    fig = Figure(figsize=(0.9 * k + 0.8, 0.9 * len(classes) + (0.5 if title else 0.2)),
                 layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    show_images(ax, samples, title, cols=k)
    h = samples.shape[2] + 1
    for r, label in enumerate(classes):
        ax.text(-2, 1 + r * h + h / 2, str(label), ha="right", va="center", fontsize=9)
    return save_figure(fig, path, dpi=110)
