"""Figures of data (blue) against generated samples (red), for 1-, 2- and 3-D data.

1-D data are drawn as overlaid histograms, 2-D as a scatter, higher dimensions as the scatter of
each pair of coordinates. Built on matplotlib's object API, so no display is needed.
"""

from __future__ import annotations

import itertools
import textwrap
from pathlib import Path

import numpy as np
from matplotlib.artist import Artist
from matplotlib.axes import Axes
from matplotlib.figure import Figure

DATA_COLOR, SAMPLE_COLOR = "tab:blue", "tab:red"

#: The mark of a file thermogan wrote: a PNG's Software text, an HTML page's generator meta tag
#: (``experiment/outputs.py`` lets a command replace only files that carry it)
MARK = "thermogan"


def save_figure(fig: Figure, path: str | Path, dpi: int = 120) -> Path:
    """Write ``fig`` to ``path`` (its folder created when missing), marked as thermogan's when a
    PNG; returns the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=dpi, metadata={"Software": MARK} if path.suffix == ".png" else None)
    return path


LEGEND_HEIGHT = 0.3  # inches: one row of legend entries in a footer


def footer_height(caption: str, width: float, legend: bool = False, fontsize: float = 7) -> float:
    """The height in inches that ``add_footer`` needs in a figure ``width`` inches wide."""
    lines = len(_wrap(caption, width, fontsize).split("\n")) if caption else 0
    return (lines * 1.3 * fontsize + 6) / 72 + (LEGEND_HEIGHT if legend else 0)


def add_footer(fig: Figure, caption: str = "", handles: list[Artist] | None = None,
               fontsize: float = 7) -> None:
    """A legend of ``handles`` (one row) above a small grey ``caption`` (wrapped to the figure's
    width) across the bottom of ``fig``, in a strip that its constrained layout leaves free: make
    the figure ``footer_height`` taller for it. A figure legend placed "outside" would overlap a
    suptitle or a supxlabel, hence the strip."""
    width, height = fig.get_size_inches()
    text = _wrap(caption, width, fontsize) if caption else ""
    strip = footer_height(caption, width, bool(handles), fontsize) / height
    fig.get_layout_engine().set(rect=(0, strip, 1, 1 - strip))
    if text:
        fig.text(0.5, 3 / 72 / height, text, ha="center", va="bottom", fontsize=fontsize,
                 color="0.3")
    if handles:
        fig.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, strip),
                   ncols=len(handles), fontsize=8, frameon=False, borderaxespad=0.1)


def _wrap(text: str, width: float, fontsize: float) -> str:
    """``text`` broken into lines that fit ``width`` inches at ``fontsize`` points."""
    chars = max(30, int(width * 72 / (0.55 * fontsize)) - 4)
    return "\n".join(textwrap.fill(line, chars) for line in text.split("\n"))


def _draw(ax: Axes, data: np.ndarray, samples: np.ndarray, dims: tuple[int, ...]) -> None:
    if len(dims) == 1:
        both = np.concatenate([data[:, 0], samples[:, 0]])
        bins = np.linspace(both.min(), both.max(), 80)
        ax.hist(data[:, 0], bins=bins, color=DATA_COLOR, alpha=0.5, density=True, label="data")
        ax.hist(samples[:, 0], bins=bins, color=SAMPLE_COLOR, alpha=0.5, density=True,
                label="samples")
        return
    i, j = dims
    ax.scatter(data[:, i], data[:, j], s=2, c=DATA_COLOR, alpha=0.5, label="data", linewidths=0)
    ax.scatter(samples[:, i], samples[:, j], s=2, c=SAMPLE_COLOR, alpha=0.5, label="samples",
               linewidths=0)
    ax.set_xlabel(f"x{i + 1}")
    ax.set_ylabel(f"x{j + 1}")
    ax.set_aspect("equal", adjustable="datalim")


def data_vs_samples(data: np.ndarray, samples: np.ndarray, path: str | Path,
                    title: str = "") -> Path:
    """Write a PNG comparing ``data`` (N, d) with ``samples`` (M, d); returns its path."""
    return save_figure(data_vs_samples_figure(data, samples, title), path)


def data_vs_samples_figure(data: np.ndarray, samples: np.ndarray, title: str = "") -> Figure:
    """The figure of ``data_vs_samples``: a histogram (1-D) or up to three 2-D scatters."""
    data = np.asarray(data).reshape(len(data), -1)
    samples = np.asarray(samples).reshape(len(samples), -1)
    dim = data.shape[1]
    views = [(0,)] if dim == 1 else list(itertools.combinations(range(dim), 2))[:3]
    fig = Figure(figsize=(4.2 * len(views), 4.4), layout="constrained")
    axes = fig.subplots(1, len(views), squeeze=False)[0]
    for ax, dims in zip(axes, views):
        _draw(ax, data, samples, dims)
    axes[0].legend(loc="upper right", markerscale=4, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    return fig


def side_by_side(panels: list[tuple[str, np.ndarray, np.ndarray]], path: str | Path) -> Path:
    """One column per (title, data, samples) panel, for comparing runs; 2-D views of the data."""
    fig = Figure(figsize=(4.2 * len(panels), 4.6), layout="constrained")
    axes = fig.subplots(1, len(panels), squeeze=False)[0]
    for ax, (title, data, samples) in zip(axes, panels):
        data = np.asarray(data).reshape(len(data), -1)
        samples = np.asarray(samples).reshape(len(samples), -1)
        _draw(ax, data, samples, (0,) if data.shape[1] == 1 else (0, 1))
        ax.set_title(title, fontsize=9)
    axes[0].legend(loc="upper right", markerscale=4, fontsize=8)
    return save_figure(fig, path)
