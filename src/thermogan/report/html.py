"""Reports read in a browser: one self-contained HTML page per report, from Jinja2 templates.

Every figure is embedded as a ``data:image/png;base64,`` URI and the page's content security
policy forbids loading anything else, so a page opens the same offline, mailed or archived.

- ``run_report``: runs side by side: a table of their metrics with each metric's protocol, their
  resolved configs with the keys that differ between runs highlighted, curves of everything
  logged in metrics.jsonl over training, and every figure in each run's ``figures/``;
- ``bench_report``: a bench's ``results.md`` (its table, as HTML) and the figures beside it.
"""

from __future__ import annotations

import base64
import io
import json
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import markdown
import numpy as np
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from markupsafe import Markup
from matplotlib.figure import Figure

from thermogan.atomic import write_atomic
from thermogan.report.curves import read_log, series
from thermogan.report.figures import MARK

TEMPLATES = Environment(loader=PackageLoader("thermogan.report", "templates"),
                        autoescape=select_autoescape(["j2"]), undefined=StrictUndefined,
                        trim_blocks=True, lstrip_blocks=True)
TEMPLATES.globals["mark"] = MARK  # the generator meta tag: thermogan wrote this page


@dataclass(frozen=True)
class RunView:
    """What a report shows of one run: its label, folder, resolved config and summary.json
    (None for a run that has not finished)."""

    label: str
    run_dir: Path
    config: dict[str, Any]
    summary: dict[str, Any] | None


@dataclass(frozen=True)
class Picture:
    """An embedded figure: a caption and its PNG as a data URI."""

    caption: str
    uri: str


def png_uri(png: bytes) -> str:
    return "data:image/png;base64," + base64.b64encode(png).decode("ascii")


def file_picture(path: Path, caption: str | None = None) -> Picture:
    return Picture(caption or path.name, png_uri(path.read_bytes()))


def figure_picture(fig: Figure, caption: str) -> Picture:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=100)
    return Picture(caption, png_uri(buffer.getvalue()))


def run_report(runs: Sequence[RunView], differing: Collection[str], path: str | Path,
               figures: Sequence[Path] = ()) -> Path:
    """Write the page of ``runs`` to ``path``, highlighting the dotted config keys ``differing``;
    ``figures`` (PNG files, such as the side-by-side comparison) open the page."""
    metrics = list(dict.fromkeys(m for run in runs for m in _metrics(run)))
    page = TEMPLATES.get_template("runs.html.j2").render(
        title="thermogan report: " + ", ".join(run.label for run in runs),
        runs=runs, figures=[file_picture(Path(f)) for f in figures],
        metrics=metrics, rows=[_metric_row(run, metrics) for run in runs],
        protocols=_protocols(runs, metrics),
        config_rows=_config_rows(runs, set(differing)), differing=sorted(differing),
        curves=_curves(runs), run_figures=[_run_figures(run) for run in runs])
    return _write(page, path)


def bench_report(out_dir: str | Path, path: str | Path, title: str) -> Path:
    """Write the page of the bench whose results are in ``out_dir``: results.md and every PNG
    beside it."""
    out_dir = Path(out_dir)
    table = markdown.markdown((out_dir / "results.md").read_text(), extensions=["tables"])
    page = TEMPLATES.get_template("bench.html.j2").render(
        title=title, results=Markup(table),
        figures=[file_picture(p) for p in sorted(out_dir.glob("*.png"))])
    return _write(page, path)


def _write(page: str, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_atomic(path, page)


def _metrics(run: RunView) -> dict[str, Any]:
    return run.summary["metrics"] if run.summary else {}


def _number(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _metric_row(run: RunView, metrics: list[str]) -> list[str]:
    values = _metrics(run)
    return [_number(values[m]) if m in values else "–" for m in metrics]


def _text(record: dict[str, Any]) -> list[tuple[str, str]]:
    return [(key, _value(value)) for key, value in record.items()]


def _grouped(records: Sequence[tuple[str, dict[str, Any]]]) -> list[tuple[str, Any]]:
    """(labels of the runs that share it, record as (key, text) pairs) per distinct record."""
    groups: dict[str, tuple[list[str], dict[str, Any]]] = {}
    for label, record in records:
        key = json.dumps(record, sort_keys=True, default=str)
        groups.setdefault(key, ([], record))[0].append(label)
    return [(", ".join(labels), _text(record)) for labels, record in groups.values()]


def _protocols(runs: Sequence[RunView], metrics: list[str]) -> list[tuple[str, Any]]:
    """How each metric was measured: the protocol shared by a run's metrics (samples, seed,
    generator, step, ...) and, for the metrics that keep one, their own record."""
    scored = [run for run in runs if run.summary]
    out = [("every metric", _grouped([(r.label, r.summary["protocol"]) for r in scored]))]
    for metric in metrics:
        own = [(r.label, r.summary["scores"][metric]["protocol"]) for r in scored
               if metric in r.summary.get("scores", {})]
        if own:
            out.append((metric, _grouped(own)))
    return out


def _flat(config: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in config.items():
        if isinstance(value, dict) and value:
            out.update(_flat(value, f"{prefix}{key}."))
        else:
            out[f"{prefix}{key}"] = value
    return out


def _config_rows(runs: Sequence[RunView], differing: set[str]) -> list[tuple[str, bool, list]]:
    """(dotted key, whether it differs between runs, its value in each run) per config key."""
    flat = [_flat(run.config) for run in runs]
    keys = list(dict.fromkeys(k for f in flat for k in f))
    sections = list(dict.fromkeys(k.split(".")[0] for k in keys))
    keys.sort(key=lambda k: sections.index(k.split(".")[0]))  # a section's keys together
    rows = []
    for key in keys:
        parts = key.split(".")
        differs = any(".".join(parts[:i]) in differing for i in range(1, len(parts) + 1))
        values = [_value(f[key]) if key in f else "–" for f in flat]
        rows.append((key, differs, values))
    return rows


def _value(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


#: Line styles of the runs' curves, in turn
LINE_STYLES = ("-", "--", "-.", ":")


def spans_decades(values: np.ndarray) -> bool:
    """Whether values >= 0 span more than two decades where they are positive (β from 0.1 to
    2,650, a level that starts at 0): such a curve is read on a log axis."""
    positive = values[values > 0]
    return bool(values.min() >= 0 and positive.size and positive.max() > 100 * positive.min())


def _curves(runs: Sequence[RunView]) -> list[Picture]:
    """One figure per key logged in metrics.jsonl (losses, levels, steps/s), a line per run."""
    logs = [read_log(run.run_dir) for run in runs]  # each run's metrics.jsonl, read once
    keys = [k for k in dict.fromkeys(k for rows in logs for row in rows for k in row)
            if k != "step"]
    pictures = []
    for key in keys:
        fig = Figure(figsize=(4.4, 2.8), layout="constrained")
        ax = fig.add_subplot()
        shown = []
        for i, (run, rows) in enumerate(zip(runs, logs)):
            steps, values = series(rows, key)
            finite = np.isfinite(values)
            if finite.any():  # a dash of its own, so that equal curves do not hide each other
                ax.plot(steps[finite], values[finite], lw=1.2, alpha=0.85, label=run.label,
                        ls=LINE_STYLES[i % len(LINE_STYLES)])
                shown.append(values[finite])
        if not shown:  # only infinite values: nothing to draw
            continue
        title = key
        if spans_decades(np.concatenate(shown)):
            ax.set_yscale("log", nonpositive="mask")
            title += " (log scale; zeros not drawn)" if min(map(np.min, shown)) == 0 else ""
        ax.set_xlabel("training step", fontsize=8)
        ax.set_title(title, fontsize=9)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
        pictures.append(figure_picture(fig, key))
    return pictures


def _run_figures(run: RunView) -> list[Picture]:
    """Every PNG in the run's figures/, samples.png first."""
    paths = sorted((run.run_dir / "figures").glob("*.png"), key=lambda p: (p.name != "samples.png",
                                                                            p.name))
    return [file_picture(p) for p in paths]
