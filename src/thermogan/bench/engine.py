"""One runner for every bench: a bench is a declaration (``Bench``), the runner does the rest.

A bench names its protocol and its quick preset, its plan (the jobs, ``Job``), the columns of its
table and, only where it has them, its own figures, extra table lines and per-run record
(``Bench`` says how). ``run`` then

1. plans and checks every job before anything trains (``check_plan``),
2. packs the runs into as few shared computations as their shapes allow, whatever their
   method or seed (``packing.py``, at most ``--max-members`` runs each), and trains them on the
   executor's processes or Ray tasks (``pool.Executor``); finished runs are reused and counted
   by the code that trained them (``origin.trained_by``); the wall time is printed beside the
   arithmetic floor (the FLOPs of the steps over the machine's measured peak),
3. aggregates each row over its seeds: mean ± standard error, a 95 % bootstrap interval, and a
   test against the bench's baseline row with Holm's correction over the table
   (``metrics/stats.py``),
4. writes results.md, results.json, the bench's figures and, asked for, the HTML page.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from thermogan.bench import origin, packing
from thermogan.bench.pool import Executor
from thermogan.errors import UsageError
from thermogan.jsonio import write_json
from thermogan.metrics.summary import mean_se, plus_minus

Labels = tuple[tuple[str, Any], ...]  # (("data", "ring8"), ("method", "β-GAN")): a table row


@dataclass(frozen=True)
class Job:
    """One run of a bench: its row's labels, seed, config, overrides and run folder."""

    labels: Labels
    seed: int
    config: Path
    overrides: tuple[str, ...]
    run_dir: Path
    device: str = "cpu"

    @property
    def finished(self) -> bool:
        """Whether its run has finished (its summary.json is written): it is reused."""
        return (self.run_dir / "summary.json").exists()


@dataclass(frozen=True)
class Column:
    """A metric of the table, mean ± SE over a row's seeds, ``scale`` times the run's value;
    ``of``: a key of the runs' scoring protocol printed after it (``7.50 ± 0.30 / 8``);
    ``spread=False``: the mean alone; ``tested``: compared with the baseline row; ``optional``:
    runs without it (None) are left out, "–" when none has it; ``cell``: a column the bench's
    ``extend`` fills, its cell written from the row (neither averaged nor tested)."""

    key: str
    title: str
    fmt: str = ".3f"
    scale: float = 1.0
    of: str | None = None
    spread: bool = True
    tested: bool = True
    optional: bool = False
    cell: Callable[[dict[str, Any]], str] | None = None


WALL = Column("wall_s", "wall time (s)", ".0f", tested=False)


def scored(job: Job, summary: dict[str, Any], p: Any = None) -> dict[str, Any]:
    """A run's record by default: its training time, final metrics and scoring protocol."""
    return {"wall_s": summary.get("train_seconds", math.nan), **summary["metrics"],
            "protocol": summary["protocol"]}


@dataclass(frozen=True)
class Bench:
    """A bench's declaration. ``protocol`` is the full protocol (a frozen dataclass whose fields are
    the options: ``metadata`` may give ``help``, ``flag``, ``choices``, ``append``, ``also`` (other
    fields it sets) and ``cli=False``), ``quick`` its quick preset; ``plan(p, out)`` the jobs;
    ``header(p, label, results, ran)`` the table's opening paragraph (``ran``: where and how long);
    ``columns`` the metrics (None: every number the runs report), ``wall`` the time column;
    ``result(job, summary, p)`` a run's record (a module-level function: workers import it);
    ``baseline``: (label, value) of the row each row is tested against, on the same other labels;
    ``paired``: the rows' seeds share initial weights; ``ratio``: a column (lower is better) also
    given as the ratio of its mean to the baseline row's, and the seeds where it is lower, on the
    seeds both rows have. Where it has them: ``figures(results, out, p)``, ``extend(rows, results)``
    (adds the bench's own keys to the rows), ``more(rows, results)`` (markdown lines after the
    table), ``record(p)`` (the protocol in results.json), ``transient`` (per-run keys kept out of
    results.json), ``titles`` (a label's column title), ``names`` (a label's values as the table
    shows them) and ``order`` (the records' sort key; by default the plan's order, then the
    seed)."""

    name: str
    help: str
    protocol: Any
    quick: Any
    plan: Callable[[Any, Path], list[Job]]
    header: Callable[[Any, str, list[dict[str, Any]], str], str]
    columns: tuple[Column, ...] | None
    result: Callable[[Job, dict[str, Any], Any], dict[str, Any]] = scored
    baseline: tuple[str, Any] | None = None
    paired: bool = False
    ratio: str | None = None
    figures: Callable[[list[dict[str, Any]], Path, Any], list[Path]] = lambda *_: []
    extend: Callable[[list[dict[str, Any]], list[dict[str, Any]]], None] | None = None
    more: Callable[[list[dict[str, Any]], list[dict[str, Any]]], list[str]] | None = None
    record: Callable[[Any], dict[str, Any]] = asdict
    transient: tuple[str, ...] = ()
    wall: Column = WALL
    titles: dict[str, str] = field(default_factory=dict)
    names: dict[str, dict[Any, str]] = field(default_factory=dict)
    order: Callable[[dict[str, Any]], Any] | None = None
    label: Callable[[Any, bool], str] = field(default=lambda p, quick: "quick" if quick
                                              else "reduced")


def run(bench: Bench, p: Any, out: Path, executor: Executor = Executor(),
        quick: bool = False, max_members: int = packing.MAX_MEMBERS) -> tuple[str, list[Path]]:
    """Plan, pack, train, aggregate and write a bench; returns its table and the files written."""
    from thermogan.train.floor import floor_seconds, matmul_peak

    jobs = bench.plan(p, out)
    check_plan(jobs)  # a bad override, or a reused run of another config, fails here
    out.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()
    packed = packed_jobs(bench, jobs, executor, max_members)
    results = train(bench, jobs, executor, p, packed)
    wall = time.perf_counter() - started
    # the peak of the threads the bench's workers use, when anything trained
    flops = packed.flops
    peak = matmul_peak(executor.workers) if flops > 0 else math.nan
    timing = {"wall_s": wall, "floor_s": floor_seconds(flops, peak) if flops else 0.0,
              "flops": flops, "peak_flops": peak, "threads": executor.workers}
    ran = f"{executor.describe()}, {timing_line(timing)}"
    print(f"bench {bench.name}: {timing_line(timing)}")
    trained = origin.trained_by(job.run_dir for job in jobs)
    label = bench.label(p, quick)
    text = write(bench, results, out, bench.header(p, label, results, ran) + origin.note(trained),
                 {"trained_by": trained, **bench.record(p), "label": label, "quick": quick,
                  "time": timing})
    return text, [out / "results.md", out / "results.json", *bench.figures(results, out, p)]


def timing_line(timing: dict[str, float]) -> str:
    """"300 s in all, 1.18× its arithmetic floor of 255 s (36.9 TFLOP at a measured peak of
    145 GFLOP/s on 2 threads)"."""
    wall, floor_s = timing["wall_s"], timing["floor_s"]
    if timing["flops"] == 0:
        return f"{wall:.0f} s in all, no run trained (every run was reused)"
    return (f"{wall:.0f} s in all, {wall / floor_s:.2f}× its arithmetic floor of {floor_s:.0f} "
            f"s ({timing['flops'] / 1e12:.3g} "
            f"TFLOP at a measured peak of {timing['peak_flops'] / 1e9:.3g} GFLOP/s on "
            f"{timing['threads']} thread(s))")


def check_plan(jobs: Sequence[Job]) -> None:
    """Fail before any training when a job's overrides, components or options are bad, or its
    run directory holds a run of another config (``runs.check_reusable``)."""
    from thermogan.experiment import config, runs
    from thermogan.experiment.build import check_components

    for job in jobs:
        cfg = config.load(job.config, list(job.overrides))
        check_components(cfg)
        runs.check_reusable(cfg, job.run_dir)


def known(flag: str, what: str, given: Sequence[str], valid: Sequence[str]) -> None:
    """Refuse the first value of the list option ``flag`` that is not in ``valid``."""
    bad = [g for g in given if g not in valid]
    if bad:
        raise UsageError(f"{flag}: unknown {what} {bad[0]!r}; valid: {', '.join(valid)}")


def scaled_config(folder: Path, stem: str, scale: str) -> Path:
    """The config ``stem`` of a bench's ``--scale``: ``<stem>_cpu.yaml`` or the paper's."""
    if scale not in ("cpu", "paper"):
        raise UsageError(f"--scale {scale}: expected cpu or paper")
    return folder / f"{stem}{'_cpu' if scale == 'cpu' else ''}.yaml"


def twins(first: Path, second: Path, keys: tuple[str, ...], folder: str) -> list[dict]:
    """Two configs (as dicts) that exist and differ in nothing but ``keys`` (a bench's methods
    take parts of one into the other); ``folder`` says which files --configs must hold."""
    from thermogan.experiment import config, runs

    for path in (first, second):
        if not path.is_file():
            raise UsageError(f"config {path} does not exist (--configs names the folder of "
                             f"{folder})")
    a, b = config.load(first).to_dict(), config.load(second).to_dict()
    other = [k for k in runs.changed_keys(a, b) if not k.startswith(keys)]
    if other:
        raise UsageError(f"{first} and {second} are not twins: they differ in {other[0]} (only "
                         f"{', '.join(keys)} may)")
    return [a, b]


def write(bench: Bench, results: list[dict[str, Any]], out: Path, header: str,
          protocol: dict[str, Any]) -> str:
    """results.md and results.json of the runs' records; returns the table."""
    columns = table_columns(bench, results)
    rows = aggregate(bench, columns, results)
    text = markdown(bench, columns, rows, results, header)
    (out / "results.md").write_text(text)
    runs = [{k: v for k, v in r.items() if k not in bench.transient} for r in results]
    write_json({"protocol": protocol, "summary": rows, "runs": runs}, out / "results.json")
    return text


# -- training ---------------------------------------------------------------------------------

def train(bench: Bench, jobs: list[Job], executor: Executor, p: Any = None,
          packed: packing.Packed | None = None) -> list[dict[str, Any]]:
    """Every job's record, in plan order (then seed): the jobs packed into shared computations
    (``packing.pack``, or ``packed``), each unit on a worker."""
    if packed is None:
        packed = packed_jobs(bench, jobs, executor)
    tasks = [(bench.result, p, u) for u in packed.units]
    finished = [t for t in tasks if all(job.finished for job in t[2])]
    # finished units are read here: no worker starts for a bench with nothing to train
    done = [_run_unit(t) for t in finished] + executor.map(
        _run_unit, [t for t in tasks if t not in finished], f"bench {bench.name}")
    first = {job.labels: i for i, job in reversed(list(enumerate(jobs)))}
    return sorted((r for batch in done for r in batch), key=bench.order or (lambda r: (
        first[tuple((k, r[k]) for k, _ in jobs[0].labels)], r["seed"])))


def packed_jobs(bench: Bench, jobs: list[Job], executor: Executor,
                max_members: int = packing.MAX_MEMBERS) -> packing.Packed:
    """``packing.pack`` for the executor's workers, its notes printed."""
    packed = packing.pack(jobs, max_members, executor.workers)
    for note in packed.notes:
        print(f"bench {bench.name}: {note}")
    return packed


def run_record(result: Callable, job: Job, summary: dict[str, Any], p: Any) -> dict[str, Any]:
    """A run's record: its labels, seed and the bench's ``result``; for a run that diverged,
    where (``diverged``: its step) and its time, which the table counts apart."""
    if "diverged" in summary:
        return {**dict(job.labels), "seed": job.seed, "diverged": summary["diverged"]["step"],
                "wall_s": summary.get("train_seconds", math.nan)}
    return {**dict(job.labels), "seed": job.seed, **result(job, summary, p)}


def _run_unit(task: tuple[Callable, Any, tuple[Job, ...]]) -> list[dict[str, Any]]:
    """One unit on a worker: a job trained (or reused: ``runs.train_or_reuse``), or a pack of
    jobs trained as one shared computation into the folders the runs would use
    (``seeds.together``)."""
    from thermogan.experiment import config, runs, seeds

    result, p, unit = task
    configs = [config.load(job.config, list(job.overrides)) for job in unit]
    if len(unit) == 1:
        summaries = [runs.train_or_reuse(configs[0], unit[0].run_dir, unit[0].device)]
    else:
        summaries = [summary for _, summary in seeds.together(
            list(zip(configs, (job.run_dir for job in unit))), unit[0].device,
            announce=lambda _: None)]
    return [run_record(result, job, summary, p) for job, summary in zip(unit, summaries)]


# -- the table --------------------------------------------------------------------------------

def table_columns(bench: Bench, results: list[dict[str, Any]]) -> tuple[Column, ...]:
    """The bench's columns, or every number of the first finished run's metrics; then the
    time."""
    first = next((r for r in results if "diverged" not in r), {})
    keys = list(first)[list(first).index("seed") + 1:] if first else []
    numbers = [Column(k, k) for k in keys if k != bench.wall.key and isinstance(
        first[k], (int, float)) and not isinstance(first[k], bool)]
    base = bench.baseline[1] if bench.baseline else ""
    ratio = (Column("ratio", f"ratio to {base}", cell=_ratio_cell), Column(
        "better", f"seeds better than {base}", cell=_better_cell)) if bench.ratio else ()
    return (*(bench.columns if bench.columns is not None else numbers), *ratio, bench.wall)


def aggregate(bench: Bench, columns: tuple[Column, ...],
              results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """One row per labels, in the records' order: each column's mean and SE over the seeds whose
    runs did not diverge (``diverged``: how many did), then the statistics (``compare``)."""
    groups: dict[Labels, list[dict[str, Any]]] = {}
    names = _before(results[0], "seed") if results else []
    for r in results:
        groups.setdefault(tuple((k, r[k]) for k in names), []).append(r)
    rows = []
    for labels, rs in groups.items():
        row: dict[str, Any] = {**dict(labels), "seeds": len(rs),
                               "diverged": sum("diverged" in r for r in rs)}
        for col in (c for c in columns if c.cell is None):
            values = list(_by_seed(rs, col).values())
            row[col.key], row[f"{col.key}_se"] = mean_se(values) if values else (math.nan,
                                                                                 math.nan)
        for col in (c for c in columns if c.of is not None):  # a finished run's protocol
            of = next((r["protocol"][col.of] for r in rs if "protocol" in r), None)
            if of is not None:
                row[col.of] = of
        rows.append(row)
    if bench.extend is not None:
        bench.extend(rows, results)
    compare(bench, columns, rows, list(groups.values()))
    return rows


def _before(record: dict[str, Any], key: str) -> list[str]:
    """The keys that name a record's row: those before ``key`` (``seed`` in a run's record,
    ``seeds`` in a row)."""
    keys = list(record)
    return keys[:keys.index(key)]


def compare(bench: Bench, columns: tuple[Column, ...], rows: list[dict[str, Any]],
            groups: list[list[dict[str, Any]]]) -> None:
    """Add to each row, per tested column, the 95 % bootstrap interval of the mean and, where the
    bench has a baseline row on the same other labels, the test's p-value against it and its
    Holm-adjusted value over the table's tests."""
    from thermogan.metrics import stats  # scipy: only when a table is made

    tested = [c for c in columns if c.tested and c.cell is None]
    tests: list[tuple[dict[str, Any], str, float]] = []
    for row, rs in zip(rows, groups):
        for col in tested:
            row[f"{col.key}_ci"] = list(stats.bootstrap_ci(list(_by_seed(rs, col).values())))
        base = _baseline(bench, row, rows, groups)
        if base is not None and bench.ratio is not None:
            key = Column(bench.ratio, bench.ratio)
            _ratio(row, *stats.aligned(_by_seed(rs, key), _by_seed(base, key), paired=True))
        if base is None or base is rs:
            continue
        row["baseline"] = bench.baseline[1]
        for col in tested:
            a, b = stats.aligned(_by_seed(rs, col), _by_seed(base, col), bench.paired)
            tests.append((row, col.key, stats.against(a, b, bench.paired)))
    for (row, key, p), adjusted in zip(tests, stats.holm([p for _, _, p in tests])):
        row[f"{key}_p"], row[f"{key}_p_holm"] = p, adjusted


def _baseline(bench: Bench, row: dict[str, Any], rows: list[dict[str, Any]],
              groups: list[list[dict[str, Any]]]) -> list[dict[str, Any]] | None:
    """The records of the baseline row of ``row`` (its own for the baseline; None for none)."""
    if bench.baseline is None:
        return None
    labels = _before(rows[0], "seeds")
    wanted = [bench.baseline[1] if k == bench.baseline[0] else row[k] for k in labels]
    return next((rs for other, rs in zip(rows, groups)
                 if [other[k] for k in labels] == wanted), None)


def _ratio(row: dict[str, Any], mine: list[float], theirs: list[float]) -> None:
    """The row's mean of the ratio column over the baseline row's, each on the seeds both have
    (``mine``, ``theirs``: paired by ``stats.aligned``), as ``ratio``, and on how many of those
    seeds the row's is lower (``better`` of ``paired``)."""
    row["ratio"] = float(np.mean(mine) / np.mean(theirs)) if mine else None
    row["better"], row["paired"] = sum(a < b for a, b in zip(mine, theirs)), len(mine)


def _ratio_cell(row: dict[str, Any]) -> str:
    return "–" if row.get("ratio") is None else f"{row['ratio']:.3f}"


def _better_cell(row: dict[str, Any]) -> str:
    return f"{row['better']} / {row['paired']}" if row.get("paired") and row.get(
        "baseline") else "–"


def _by_seed(rs: list[dict[str, Any]], col: Column) -> dict[int, float]:
    """A column's value by seed over a row's runs that did not diverge (an optional column's
    where they have it)."""
    return {r["seed"]: float(r[col.key]) for r in rs
            if "diverged" not in r and not (col.optional and r[col.key] is None)}


def markdown(bench: Bench, columns: tuple[Column, ...], rows: list[dict[str, Any]],
             results: list[dict[str, Any]], header: str) -> str:
    """The header, the table (one column per label, seeds, the columns), the bench's own lines,
    and the statistics."""
    labels = _before(rows[0], "seeds") if rows else []
    named = [bench.titles.get(k, k) for k in labels]
    lines = [header, "", "| " + " | ".join([*named, "seeds", *(c.title for c in columns)])
             + " |", "|" + "---|" * (len(labels) + 1 + len(columns))]
    for r in rows:
        seeds = f"{r['seeds']} ({r['diverged']} diverged)" if r["diverged"] else str(r["seeds"])
        cells = [*_shown(bench, r, labels), seeds, *(_cell(r, c) for c in columns)]
        lines.append("| " + " | ".join(cells) + " |")
    if any(r["diverged"] for r in rows):
        lines += ["", "A run that diverged (a loss became NaN or infinite; its summary.json says "
                  "at which step) is counted beside its row's seeds and left out of the row's "
                  "means and tests."]
    if bench.more is not None:
        lines += bench.more(rows, results)
    return "\n".join(lines + statistics(bench, columns, rows)) + "\n"


def _shown(bench: Bench, row: dict[str, Any], labels: list[str]) -> list[str]:
    """A row's labels as the table shows them."""
    return [bench.names.get(k, {}).get(row[k], str(row[k])) for k in labels]


def _cell(row: dict[str, Any], col: Column) -> str:
    if col.cell is not None:
        return col.cell(row)
    if math.isnan(row[col.key]):  # no run has it (an optional column's, or every run diverged)
        return "–"
    mean, se = col.scale * row[col.key], col.scale * row[f"{col.key}_se"]
    text = plus_minus(mean, se if col.spread else math.nan, col.fmt)
    return f"{text} / {row[col.of]}" if col.of is not None else text


def statistics(bench: Bench, columns: tuple[Column, ...], rows: list[dict[str, Any]]) -> list[str]:
    """The statistics table: per row and tested column, the 95 % bootstrap interval of the mean
    and, against the baseline row, the test's p-value and its Holm-adjusted value."""
    from thermogan.metrics import stats

    tested = [c for c in columns if c.tested and c.cell is None]
    if not rows or not tested:
        return []
    labels = _before(rows[0], "seeds")
    n = sum(f"{c.key}_p" in r and math.isfinite(r[f"{c.key}_p"]) for r in rows for c in tested)
    test = stats.WILCOXON if bench.paired else stats.MANN_WHITNEY
    key = bench.baseline[0] if bench.baseline else ""
    others = ", ".join(bench.titles.get(k, k) for k in labels if k != key)
    against = (f"against the row of {bench.titles.get(key, key)} {bench.baseline[1]!s}"
               f"{f' on the same {others}' if others else ''}: {test}"
               f"{', paired by seed' if bench.paired else ''}, two-sided, with Holm's "
               f"correction over the table's {n} tests" if bench.baseline else "no baseline row")
    lines = ["", f"Statistics over seeds: 95 % percentile bootstrap interval of the mean "
             f"({stats.RESAMPLES:,} resamples); p {against}.", "",
             "| " + " | ".join([*(bench.titles.get(k, k) for k in labels), "metric",
                                "95 % interval", "p", "p (Holm)"]) + " |",
             "|" + "---|" * (len(labels) + 4)]
    for r in rows:
        for c in (c for c in tested if not math.isnan(r[c.key])):  # no run has it
            lo, hi = (c.scale * v for v in r[f"{c.key}_ci"])
            interval = f"[{lo:{c.fmt}}, {hi:{c.fmt}}]" if math.isfinite(lo) else "–"
            p = [_p(r.get(f"{c.key}_{s}")) for s in ("p", "p_holm")]
            lines.append("| " + " | ".join([*_shown(bench, r, labels), c.title, interval, *p])
                         + " |")
    return lines


def _p(value: float | None) -> str:
    return "–" if value is None or not math.isfinite(value) else f"{value:.3g}"
