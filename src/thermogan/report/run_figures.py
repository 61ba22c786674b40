"""A run's figures, drawn from its files alone: a run draws them when it ends (after its
summary.json), and ``thermogan report`` draws them again.

Each figure is drawn when the run's files hold what it shows, so no code names a method: the level
snapshots (``figures/levels/``) give ``levels.png``, the periodic ones (``figures/snapshots/``)
``snapshots.png`` and, when they hold D's logits on a grid, ``contours.png``; an adaptive
controller's log keys (``heat_u``, ``sign_r``, ``sign_target`` in metrics.jsonl) give
``adaptive.png``; a tracked fd_mnist (``fd_mnist.jsonl``) gives ``fd_mnist.png``. A part that
wants a figure of its own logs what it shows, and its drawing (None where the files lack it) is
added to ``draw``.
The figure of data against samples (``samples.png``) needs the trained generator: the family's
scorer draws it when it scores the run.
"""

from __future__ import annotations

from pathlib import Path

import yaml

from thermogan.report.adaptive import adaptive_panel
from thermogan.report.contours import contour_panel
from thermogan.report.curves import logged, metric_curves
from thermogan.report.snapshots import level_panel, snapshot_panel

#: The file of a tracked fd_mnist (``experiment/tracking.py`` writes it), beside metrics.jsonl
TRACKED = "fd_mnist.jsonl"


def track_figure(run_dir: Path, name: str) -> Path | None:
    """``figures/fd_mnist.png``: the tracked fd_mnist over training; None when nothing was
    tracked."""
    steps, values = logged(run_dir, "fd_mnist", TRACKED)
    if not len(steps):
        return None
    return metric_curves([(name, steps, values)], Path(run_dir) / "figures" / "fd_mnist.png",
                         ylabel="fd_mnist (tracked samples)", title=f"{name}: fd_mnist over "
                         "training", log_y=True)


def draw(run_dir: str | Path) -> list[Path]:
    """Every figure the run's files allow, titled with the run's name (its config.yaml's, else
    its folder's); returns the paths written."""
    run_dir = Path(run_dir)
    config = run_dir / "config.yaml"
    name = (yaml.safe_load(config.read_text()) or {}).get("name") if config.is_file() else None
    name = name or run_dir.resolve().name
    made = [level_panel(run_dir, title=name), snapshot_panel(run_dir, name),
            contour_panel(run_dir), adaptive_panel(run_dir), track_figure(run_dir, name)]
    return [path for path in made if path is not None]
