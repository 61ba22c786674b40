"""Curves of a metric over training steps, one line per run."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from thermogan.report.figures import save_figure


def metric_curves(curves: Sequence[tuple[str, np.ndarray, np.ndarray]], path: str | Path, *,
                  ylabel: str, title: str = "", log_y: bool = False) -> Path:
    """Plot each (label, steps, values) against the training step."""
    fig = Figure(figsize=(7.5, 4.2), layout="constrained")
    ax = fig.add_subplot()
    for label, steps, values in curves:
        ax.plot(steps, values, lw=1, label=label)
    ax.set_xlabel("training step")
    ax.set_ylabel(ylabel)
    if log_y:
        ax.set_yscale("log")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    if title:
        ax.set_title(title, fontsize=10)
    return save_figure(fig, path)


def read_log(run_dir: str | Path, name: str = "metrics.jsonl") -> list[dict[str, Any]]:
    """The lines of the run's metrics.jsonl (or of its log ``name``; [] when it has none)."""
    path = Path(run_dir) / name
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def logged(run_dir: str | Path, key: str,
           name: str = "metrics.jsonl") -> tuple[np.ndarray, np.ndarray]:
    """(steps, values) of ``key`` over the lines of the run's metrics.jsonl (or of its log
    ``name``) that have it (the strings "inf", "-inf" and "nan" read as floats); empty arrays
    when none has it."""
    return series(read_log(run_dir, name), key)


def series(rows: Sequence[dict[str, Any]], key: str) -> tuple[np.ndarray, np.ndarray]:
    """``logged`` of log lines already read (``read_log``)."""
    pairs = [(row["step"], float(row[key])) for row in rows if key in row]
    steps, values = zip(*pairs) if pairs else ((), ())
    return np.asarray(steps, dtype=np.int64), np.asarray(values, dtype=np.float64)


def seed_curves(ax: Axes, curves: Sequence[Sequence[Sequence[float]]], color: str, label: str,
                thin: float = 0.6) -> None:
    """A row's curves over training, one per seed (each [[step, value], ...]), as thin lines,
    and their mean as a bold one labelled ``label (mean of n)`` where the seeds logged the same
    steps."""
    curves = [np.asarray(c, dtype=float).reshape(-1, 2) for c in curves if len(c)]  # (n, 2)
    for c in curves:
        ax.plot(c[:, 0], c[:, 1], color=color, lw=thin, alpha=0.35)
    if curves and all(np.array_equal(c[:, 0], curves[0][:, 0]) for c in curves):
        ax.plot(curves[0][:, 0], np.mean([c[:, 1] for c in curves], axis=0), color=color, lw=2,
                label=f"{label} (mean of {len(curves)})")
