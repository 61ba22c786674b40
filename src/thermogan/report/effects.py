"""A study's effects: each row's mean minus its baseline row's mean, per metric, with the 95 %
bootstrap interval of that difference (``metrics/stats.difference_ci``), so that a reader sees
which change moves a metric most and whether its interval leaves 0.

One row of panels per data set, one panel per metric; the rows are ordered by their effect on
the first metric (the largest on top). A bar whose interval excludes 0 is drawn dark, one whose
interval holds 0 light; a difference that is not finite (an infinite KL) is marked "not finite".
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from thermogan.metrics import stats
from thermogan.report.figures import add_footer, footer_height, save_figure

#: One metric of the figure: its key in the runs' records, its title and its scale (100: %)
Metric = tuple[str, str, float]

CLEAR, UNCLEAR = "tab:blue", "#a6c8e8"


def _effect(rows: list[dict[str, Any]], base: list[dict[str, Any]], key: str, scale: float,
            paired: bool) -> tuple[float, float, float]:
    """(difference of the means, interval low, interval high), each times ``scale``; paired by
    seed over the seeds both rows have."""
    a, b = stats.aligned({r["seed"]: float(r[key]) for r in rows},
                         {r["seed"]: float(r[key]) for r in base}, paired)
    diff = float(np.mean(a) - np.mean(b)) if a and b else math.nan
    low, high = stats.difference_ci(a, b, paired)
    return scale * diff, scale * low, scale * high


def effects_figure(results: list[dict[str, Any]], path: str | Path, baseline: tuple[str, str],
                   metrics: Sequence[Metric], paired: bool, title: str = "") -> Path:
    """Draw the effects of every row of ``results`` (run records with "data", "seed" and the
    label ``baseline[0]``) against the row whose label is ``baseline[1]``; returns the path."""
    label, base_name = baseline
    datasets = list(dict.fromkeys(r["data"] for r in results))
    names = [n for n in dict.fromkeys(r[label] for r in results) if n != base_name]
    width = 2.0 + 3.2 * len(metrics)
    how = ("paired by seed: the interval of the per-seed differences" if paired else
           "the two rows' seeds resampled apart")
    caption = (f"Each row's mean minus {base_name}'s, with its 95 % percentile bootstrap interval "
               f"({how}); dark: the interval leaves 0. Rows ordered by the effect on "
               f"{metrics[0][1]}.")
    height = len(datasets) * (0.8 + 0.28 * len(names)) + 0.3 * bool(title) + footer_height(
        caption, width)
    fig = Figure(figsize=(width, height), layout="constrained")
    axes = fig.subplots(len(datasets), len(metrics), squeeze=False, sharey="row")
    for row_axes, data in zip(axes, datasets):
        of = [r for r in results if r["data"] == data]
        base = [r for r in of if r[label] == base_name]
        present = [n for n in names if any(r[label] == n for r in of)]  # run on this data set
        effects = {n: [_effect([r for r in of if r[label] == n], base, key, scale, paired)
                       for key, _, scale in metrics] for n in present}
        order = sorted(present, key=lambda n: -_sortable(effects[n][0][0]))
        y = np.arange(len(order))[::-1]
        for j, (ax, (_, name, _)) in enumerate(zip(row_axes, metrics)):
            _panel(ax, [effects[n][j] for n in order], y)
            ax.set_title(f"{data}: {name}, row − {base_name}", fontsize=8)
            ax.tick_params(labelsize=7)
        row_axes[0].set_yticks(y, order)
    if title:
        fig.suptitle(title, fontsize=10)
    add_footer(fig, caption)
    return save_figure(fig, path, dpi=110)


def _sortable(value: float) -> float:
    return value if math.isfinite(value) else -math.inf


def _panel(ax: Any, effects: list[tuple[float, float, float]], y: np.ndarray) -> None:
    """Horizontal bars of the effects at heights ``y``, their intervals as error bars."""
    ax.axvline(0.0, color="0.4", lw=0.8)
    ax.xaxis.set_major_locator(MaxNLocator(nbins=4))  # long tick labels of small numbers
    for (diff, low, high), at in zip(effects, y):
        if not math.isfinite(diff):
            ax.text(0.02, at, "not finite", va="center", fontsize=7, color="0.3",
                    transform=ax.get_yaxis_transform())  # x across the panel, y at the row
            continue
        clear = math.isfinite(low) and (low > 0 or high < 0)
        ax.barh(at, diff, color=CLEAR if clear else UNCLEAR, height=0.7)
        if math.isfinite(low):
            ax.errorbar(diff, at, xerr=[[diff - low], [high - diff]], color="0.15", lw=1,
                        capsize=2)
