"""Studies as files: ``thermogan study FILE.yaml`` trains data sets × methods × seeds and gives
the table, statistics, figures and HTML page of any bench (``engine.run``).

A study file (every key but ``methods`` and ``datasets`` optional)::

    datasets: [ring8]                       # each fills {data} in the methods' config paths
    methods:                                # name: a config (and overrides)
      vanilla: {config: "{data}_vanilla.yaml"}
      β-GAN: {config: "{data}_betagan.yaml", grid: {tempering.cold_std: [1, 2, 4]}}
    baseline: vanilla                       # the row each row is tested against
    seeds: 3
    steps: 500

A ``grid`` expands into one method per combination of its values, named after them
(``β-GAN (tempering.cold_std=2)``). Config paths are relative to ``configs`` (a folder relative
to the current directory; by default the configs shipped with the package). ``columns`` names the
table's metrics (by default every metric the runs report); ``paired: true`` says the seeds of every
method start from the same initial weights (the seed draws G and D before any method's part
exists), so each row is tested against the baseline with the Wilcoxon signed-rank test paired by
seed instead of the Mann-Whitney U test; ``figure: points`` draws each method's samples of seed 0
against the data (2-D data sets), ``figure: effects`` each method's mean minus the baseline's
per metric, with the difference's bootstrap interval (``report/effects.py``); ``figure: [points,
effects]`` both. The mode-collapse bench is such a file, ``modes.yaml``, shipped in this
package.
"""

from __future__ import annotations

import dataclasses
import itertools
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import PositiveInt, ValidationError

from thermogan.bench.engine import Bench, Column, Job, known, scored, table_columns
from thermogan.errors import ConfigError, UsageError, unknown_key
from thermogan.experiment.config import SHIPPED, Strict

COMMON = ("device=cpu", "train.progress=false", "train.tensorboard=false",
          "train.checkpoint_every=1000000000")


class Method(Strict):
    config: str  # a config file, relative to the study's configs folder; {data}: the data set
    overrides: list[str] = []  # KEY=VALUE, as on the train command line
    grid: dict[str, list[Any]] = {}  # KEY: [values]: one method per combination


class ColumnSpec(Strict):
    key: str  # a metric of the runs' summary.json
    title: str | None = None  # default: the key
    fmt: str = ".3f"
    scale: float = 1.0
    of: str | None = None  # a key of the scoring protocol shown after the mean (modes / 8)


class Preset(Strict):
    seeds: PositiveInt | None = None
    steps: PositiveInt | None = None


Figures = Literal["points", "effects"]


class StudyFile(Strict):
    title: str | None = None  # the table's title (default: the file's name)
    help: str = ""  # one line for the command's help
    about: str | None = None  # what the scores are, for the table's header
    configs: str | None = None  # the methods' config folder (default: the shipped configs)
    datasets: list[str]
    methods: dict[str, Method]
    seeds: PositiveInt = 3
    steps: PositiveInt | None = None  # None: each config's own
    quick: Preset = Preset()
    baseline: str | None = None  # a method's name
    paired: bool = False  # the seeds of every method share initial weights
    figure: Figures | list[Figures] = []  # one, or both (see the module docstring)
    columns: list[ColumnSpec] | None = None
    record: dict[str, Any] = {}  # more facts of the protocol for results.json

    @property
    def figures(self) -> list[str]:
        """``figure`` as a list."""
        return [self.figure] if isinstance(self.figure, str) else self.figure


@dataclass(frozen=True)
class Protocol:
    seeds: int = field(metadata={"help": "seeds per method"})
    steps: int | None = field(default=None, metadata={"help": "steps per run"})
    methods: tuple[str, ...] = field(default=(), metadata={
        "help": "comma-separated subset of the methods"})
    datasets: tuple[str, ...] = field(default=(), metadata={"help": "comma-separated data sets"})
    configs: Path = field(default=SHIPPED, metadata={
        "help": "the folder of the methods' configs"})


@dataclass(frozen=True)
class Study:
    """A study file read and checked: its methods expanded, as (config pattern, overrides)."""

    path: Path
    spec: StudyFile
    methods: dict[str, tuple[str, tuple[str, ...]]]


def packaged(name: str) -> Path:
    """A study file shipped in this package (``modes.yaml``)."""
    return Path(str(resources.files("thermogan.bench") / name))


def read(path: Path) -> Study:
    """The study in ``path``; ConfigError names the file and the first bad key."""
    from thermogan.experiment.config import read_yaml

    raw = read_yaml(path)
    try:
        spec = StudyFile.model_validate(raw)
    except ValidationError as err:
        raise ConfigError(f"study {path}: {_error(err)}") from None
    methods = {name: m for base, method in spec.methods.items()
               for name, m in _expand(base, method)}
    bad = [m for m in methods if "," in m]
    if bad:
        raise ConfigError(f"study {path}: method {bad[0]!r}: a name may not hold a comma")
    if spec.baseline is not None and spec.baseline not in methods:
        raise unknown_key(f"study {path}: baseline", spec.baseline, methods, what="method")
    if "effects" in spec.figures and spec.baseline is None:
        raise ConfigError(f"study {path}: figure: effects draws each method against the "
                          "baseline; name one (baseline: METHOD)")
    return Study(path, spec, methods)


def _error(err: ValidationError) -> str:
    first = err.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    if first["type"] == "extra_forbidden":
        model: Any = StudyFile
        for part in first["loc"][:-1]:
            model = getattr(model, "model_fields", {}).get(part, None)
            model = getattr(model, "annotation", Method)
        fields = getattr(model, "model_fields", Method.model_fields)
        return str(unknown_key("", str(first["loc"][-1]), fields))
    return f"{where}: {first['msg']}"


def _expand(name: str, method: Method) -> list[tuple[str, tuple[str, tuple[str, ...]]]]:
    """A method, or one per combination of its grid's values."""
    if not method.grid:
        return [(name, (method.config, tuple(method.overrides)))]
    keys = list(method.grid)
    out = []
    for values in itertools.product(*method.grid.values()):
        sets = [f"{k}={_yaml(v)}" for k, v in zip(keys, values)]
        out.append((f"{name} ({'; '.join(sets)})", (method.config,
                                                   (*method.overrides, *sets))))
    return out


def _yaml(value: Any) -> str:
    import json

    return value if isinstance(value, str) else json.dumps(value)


def slug(method: str) -> str:
    """A method's run folder: ``vanilla (saturating)`` -> ``vanilla__saturating``."""
    return "".join(c if c.isalnum() else "_" for c in method).strip("_")


def plan(study: Study, p: Protocol, out: Path) -> list[Job]:
    """Every (data set, method, seed) run, in that order; every config must exist."""
    known("--methods", "method", p.methods, study.methods)
    methods = list(p.methods) or list(study.methods)
    jobs = []
    for data in p.datasets:
        for method in methods:
            pattern, overrides = study.methods[method]
            path = p.configs / pattern.format(data=data)
            if not path.is_file():
                raise UsageError(f"config {path} does not exist (run from the folder the study's "
                                 "configs are relative to, or pass --configs DIR)")
            budget = [f"train.steps={p.steps}"] if p.steps else []
            for seed in range(p.seeds):
                jobs.append(Job((("data", data), ("method", method)), seed, path,
                                (*overrides, *budget, f"seed={seed}", *COMMON),
                                out / "runs" / data / slug(method) / f"seed{seed}"))
    return jobs


def points(job: Job, summary: dict[str, Any], p: Protocol) -> dict[str, Any]:
    """A run's record with its samples and as many data points (for ``figure: points``)."""
    from thermogan.experiment import runs, scoring

    cfg, trainer = runs.open_run(job.run_dir)
    n = scoring.eval_samples(cfg)
    return {**scored(job, summary), "samples": trainer.sample(n, cfg.eval.seed).numpy(),
            "data_points": trainer.data.sample(n).x.numpy()}


def figure(results: list[dict[str, Any]], path: Path, seed: int = 0) -> Path:
    """One panel per (data set, method) for ``seed``: data (blue) against samples (red)."""
    from matplotlib.figure import Figure

    from thermogan.report.figures import DATA_COLOR, SAMPLE_COLOR, save_figure

    shown = [r for r in results if r["seed"] == seed]
    datasets = list(dict.fromkeys(r["data"] for r in shown))
    methods = list(dict.fromkeys(r["method"] for r in shown))
    fig = Figure(figsize=(3.0 * len(methods), 3.2 * len(datasets)), layout="constrained")
    axes = fig.subplots(len(datasets), len(methods), squeeze=False)
    for r in shown:
        ax = axes[datasets.index(r["data"])][methods.index(r["method"])]
        if "diverged" in r:  # no samples: its G is not finite
            ax.set_title(f"{r['data']}: {r['method']}\ndiverged at step {r['diverged']}",
                         fontsize=8)
            ax.set_axis_off()
            continue
        ax.scatter(*r["data_points"].T[:2], s=1, c=DATA_COLOR, alpha=0.4, linewidths=0)
        ax.scatter(*r["samples"].T[:2], s=1, c=SAMPLE_COLOR, alpha=0.4, linewidths=0)
        scores = (f"\n{r['modes']} modes, {100 * r['high_quality']:.0f}% HQ, KL "
                  f"{r['reverse_kl']:.2f}" if "modes" in r else "")
        ax.set_title(f"{r['data']}: {r['method']}{scores}", fontsize=8)
        ax.set_aspect("equal", adjustable="datalim")
        ax.tick_params(labelsize=6)
    return save_figure(fig, path, dpi=110)


def bench(study: Study, name: str | None = None) -> Bench:
    """The study as a bench declaration (``engine.run`` runs it), its quick preset the file's."""
    s, title = study.spec, study.spec.title or study.path.stem
    full = Protocol(s.seeds, s.steps, datasets=tuple(s.datasets),
                    configs=Path(s.configs) if s.configs is not None else SHIPPED)
    quick = dataclasses.replace(full, seeds=s.quick.seeds or s.seeds,
                                steps=s.quick.steps or s.steps)

    def header(p: Protocol, label: str, results: list[dict[str, Any]], ran: str) -> str:
        steps = f"{p.steps} steps per run" if p.steps else "each config's steps"
        return (f"{title} ({label}): {p.seeds} seeds, {steps}"
                f"{', ' + s.about if s.about else ''}; training time per run on one thread, a "
                f"pack's time shared by its members; {ran}.")

    def record(p: Protocol) -> dict[str, Any]:
        methods = list(p.methods) or list(study.methods)
        return {"study": str(study.path.name), "seeds": p.seeds, "steps": p.steps, **s.record,
                "datasets": list(p.datasets), "baseline": s.baseline, "paired": s.paired,
                "methods": {m: study.methods[m] for m in methods}}

    def figures(results: list[dict[str, Any]], out: Path, p: Protocol) -> list[Path]:
        drawn = []
        if "points" in s.figures:
            drawn.append(figure(results, out / f"{name or 'study'}.png"))
        if "effects" in s.figures:
            from thermogan.report.effects import effects_figure

            metrics = [(c.key, c.title, c.scale) for c in table_columns(made, results)
                       if c.tested and c.cell is None]
            finished = [r for r in results if "diverged" not in r]
            drawn.append(effects_figure(finished, out / f"{name or 'study'}_effects.png",
                                        ("method", str(s.baseline)), metrics, s.paired, title))
        return drawn

    columns = tuple(Column(c.key, c.title or c.key, c.fmt, c.scale, c.of) for c in s.columns
                    ) if s.columns is not None else None
    made = Bench(name or title, s.help, full, quick, lambda p, out: plan(study, p, out), header,
                 columns, points if "points" in s.figures else scored,
                 ("method", s.baseline) if s.baseline else None, s.paired, figures=figures,
                 record=record, transient=("samples", "data_points"),
                 label=lambda p, quick: "quick" if quick else "full",
                 wall=Column("wall_s", "training s per run", ".1f", spread=False, tested=False))
    return made
