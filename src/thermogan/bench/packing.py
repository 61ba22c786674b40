"""Packing a bench's runs into shared computations, and counting their arithmetic.

A bench's (method, seed) runs train as few shared computations as their shapes allow: runs whose
trainers stack as one (``seeds.stacked``: the same networks, loss, batch size and D steps, parts
that stacking supports, as ``train/`` decides) and whose loop settings agree
(``seeds.loop_key``) form a class, whatever their method or seed; each class is cut into packs
of at most ``max_members`` runs, and the longest pack is cut again while that shortens the bench
on its workers (``_balance``), so that they finish together. Each pack trains as one ``Members``
(``seeds.together``), each run in its own folder as its single run would, equal to it up to
rounding. A finished run is reused. A begun one resumes with the runs it began with, in their
order, so that it resumes exactly: each checkpoint records the run folders of its computation
(``shared_with``, ``train/loop.py``); only the runs not yet begun are packed afresh, around the
begun packs. A run's row is decided from a trainer of its config built for the purpose (the seed
changes no shape); the same trainer counts the FLOPs of one of its steps (``train/floor.py``),
which give the bench's arithmetic floor.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from thermogan.bench.engine import Job
    from thermogan.train.trainer import Trainer

#: Runs of one shared computation at most, by default (``--max-members``)
MAX_MEMBERS = 64


@dataclass(frozen=True)
class Packed:
    """A bench's units (a pack of runs, or a run alone), biggest first; the FLOPs of the runs
    it trains (reused runs count none); and a line for each row whose runs train alone."""

    units: list[tuple[Job, ...]]
    flops: float
    notes: list[str]


def pack(jobs: list[Job], max_members: int = MAX_MEMBERS, workers: int = 1) -> Packed:
    """Pack ``jobs`` (see the module docstring)."""
    from thermogan.experiment.seeds import stacked
    from thermogan.train.ensemble import not_stacked
    from thermogan.train.floor import step_flops

    todo = [job for job in jobs if not job.finished]
    reused = [(job,) for job in jobs if job.finished]  # read, not trained: last
    if not todo:
        return Packed(reused, 0.0, [])
    begun, notes = _begun(todo)
    kept = {job for unit in begun for job in unit}
    rows: dict[tuple[Any, ...], list[Job]] = {}
    for job in todo:
        rows.setdefault(_row_key(job), []).append(job)
    classes: list[tuple[Trainer, tuple[Any, ...], list[Job]]] = []
    probes, alone = [], []
    for row in rows.values():
        trainer, loop = _probe(row[0])
        probes.append((row, trainer, loop[0]))
        fresh = [job for job in row if job not in kept]
        reason = not_stacked([trainer, trainer])  # its own seeds
        if reason is not None:
            alone += fresh
            if len(fresh) > 1:
                notes.append(f"{_row_name(row[0])} trains run by run: {reason}")
        elif fresh:
            same = next((c for c in classes if c[1] == loop
                         and not isinstance(stacked([c[0], trainer]), str)), None)
            if same is None:
                classes.append((trainer, loop, fresh))
            else:
                same[2].extend(fresh)
    cost = {}  # the FLOPs of each run to train, from one step of its row's trainer (after the
    for row, trainer, steps in probes:  # probes of stacking: it steps)
        cost.update(dict.fromkeys(row, float(step_flops(trainer) * steps)))
    units = [tuple(part) for *_, members in classes for part in _cut(members, max_members)]
    units = [*_balance(units + [(job,) for job in alone], cost, workers, begun), *begun]
    units.sort(key=lambda unit: -_time(unit, cost))  # the longest first, as _balance counts
    sizes = [len(u) for u in units if len(u) > 1]
    if sizes:
        notes.append(f"{len(todo)} runs to train: {sum(sizes)} of them in {len(sizes)} shared "
                     f"computation(s) of {', '.join(map(str, sizes))} runs")
    if begun:
        notes.append(f"{len(begun)} begun unit(s) of {len(kept)} runs resume as they began")
    return Packed(units + reused, sum(cost.values()), notes)


def _begun(jobs: list[Job]) -> tuple[list[tuple[Job, ...]], list[str]]:
    """The packs of ``jobs`` that an earlier attempt began, each with the runs it began with in
    their order (as its newest checkpoint records them, ``shared_with``), and a line for each
    run whose checkpoint does not record them (begun before thermogan did): it resumes alone."""
    from thermogan.experiment.runs import latest_checkpoint
    from thermogan.train.checkpoint import load_checkpoint, pending_path

    by_dir = {job.run_dir.resolve(): job for job in jobs}
    units: list[tuple[Job, ...]] = []
    notes: list[str] = []
    seen: set[Job] = set()
    for job in (job for job in jobs if job not in seen):
        latest = latest_checkpoint(job.run_dir)
        newest = next((p for p in (pending_path(latest), latest) if p.exists()), None)
        if newest is None:  # not begun
            continue
        shared = load_checkpoint(newest).get("shared_with")
        if shared is None:
            notes.append(f"{_row_name(job)}, seed {job.seed}, resumes alone: its checkpoint "
                         "does not record the runs it began with")
        folders = [(job.run_dir / name).resolve() for name in shared or ["."]]
        unit = tuple(dict.fromkeys(by_dir[d] for d in folders
                                   if d in by_dir and by_dir[d] not in seen))
        units.append(unit)
        seen.update(unit)
    return units, notes


def _row_key(job: Job) -> tuple[Any, ...]:
    """A job's config, overrides but its seed, and device: its row's runs have one shape."""
    return job.config, tuple(o for o in job.overrides if o != f"seed={job.seed}"), job.device


def _row_name(job: Job) -> str:
    """"method on data"."""
    return " on ".join(str(v) for _, v in reversed(job.labels))


def _probe(job: Job) -> tuple[Trainer, tuple[Any, ...]]:
    """A trainer of the job's config (to probe, not to train) and its loop's settings."""
    from thermogan.experiment import config
    from thermogan.experiment.build import build_trainer, resolve_device
    from thermogan.experiment.seeds import loop_key

    cfg = config.load(job.config, list(job.overrides)).with_fixed_schedules()
    return build_trainer(cfg, resolve_device(job.device)), loop_key(cfg)


def _cut(jobs: Sequence[Job], cap: int, parts: int = 1) -> list[list[Job]]:
    """``jobs`` in the fewest parts of at most ``cap`` (at least ``parts``), their sizes as equal
    as can be."""
    parts = max(parts, math.ceil(len(jobs) / cap))
    size, extra = divmod(len(jobs), parts)
    starts = [i * size + min(i, extra) for i in range(parts + 1)]
    return [jobs[a:b] for a, b in zip(starts, starts[1:])]


#: A pack of n runs takes about as long as n + OVERHEAD of its runs would at the stacked rate:
#: stacking shares each call's fixed cost (on 2 CPU cores 8 members ran 2.75x and 32 3.04x
#: faster than their runs one by one, ``benchmarks/ensemble.py``)
OVERHEAD = 2


def _time(unit: tuple[Job, ...], cost: dict[Job, float]) -> float:
    """A unit's time in units of arithmetic (see ``OVERHEAD``)."""
    return sum(cost[job] for job in unit) * (len(unit) + OVERHEAD) / len(unit)


def _makespan(units: list[tuple[Job, ...]], cost: dict[Job, float], workers: int) -> float:
    """The time of the busiest worker when each unit, longest first, goes to the worker that
    is free first (as the pools hand them out)."""
    loads = [0.0] * workers
    for time in sorted((_time(unit, cost) for unit in units), reverse=True):
        loads[loads.index(min(loads))] += time
    return max(loads)


def _balance(units: list[tuple[Job, ...]], cost: dict[Job, float], workers: int,
             fixed: Sequence[tuple[Job, ...]] = ()) -> list[tuple[Job, ...]]:
    """``units`` with the longest pack cut in two or more (up to a part per worker: the cut that
    shortens the busiest worker's time most), again and again while that shortens it, beside
    the ``fixed`` units (begun packs, never cut). Fewer, bigger packs are faster per run, but
    packs too few or too unequal leave workers idle at the end."""
    best = _makespan([*units, *fixed], cost, workers)
    while packs := [u for u in units if len(u) > 1]:
        biggest = max(packs, key=lambda unit: _time(unit, cost))
        i = units.index(biggest)
        cuts = [units[:i] + [tuple(part) for part in _cut(biggest, len(biggest), parts)]
                + units[i + 1:] for parts in range(2, min(workers, len(biggest)) + 1)]
        spans = [_makespan([*cut, *fixed], cost, workers) for cut in cuts]
        if not spans or min(spans) >= best:
            return units
        best = min(spans)
        units = cuts[spans.index(best)]
    return units
