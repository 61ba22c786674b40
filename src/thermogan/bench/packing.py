"""Packing a bench's runs into shared computations, and counting their arithmetic.

A bench's (method, seed) runs train as few shared computations as their shapes allow: runs whose
trainers stack as one (``seeds.stacked``: the same networks, loss, batch size and D steps, parts
that stacking supports, as ``train/`` decides) and whose loop settings agree
(``seeds.loop_key``) form a class, whatever their method or seed; each class is cut into packs
of at most ``max_members`` runs, and the longest pack is cut again while that shortens the bench
on its workers (``_balance``), so that they finish together. Each pack trains as one ``Members``
(``seeds.together``), each run in its own folder as its single run would, equal to it up to
rounding; a finished run is reused, a begun one resumes with its pack, the same at every attempt
(finished runs are packed too, and reused), so that it resumes exactly. A run's row is decided
from a trainer of its config built for the purpose (the seed changes no shape); the same trainer
counts the FLOPs of one of its steps (``train/floor.py``), which give the bench's arithmetic
floor.
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

    done = {job for job in jobs if job.finished}
    if len(done) == len(jobs):  # nothing to train: each run is reused, no pack to keep
        return Packed([(job,) for job in jobs], 0.0, [])
    rows: dict[tuple[Any, ...], list[Job]] = {}
    for job in jobs:  # the finished runs too: a run's pack is the same at every attempt
        rows.setdefault(_row_key(job), []).append(job)
    classes: list[tuple[Trainer, tuple[Any, ...], list[Job]]] = []
    probes, notes, alone = [], [], []
    for row in rows.values():
        trainer, loop = _probe(row[0])
        probes.append((row, trainer, loop[0]))
        if (reason := not_stacked([trainer, trainer])) is not None:  # its own seeds
            alone += row
            if len(row) > 1:
                notes.append(f"{_row_name(row[0])} trains run by run: {reason}")
            continue
        same = next((c for c in classes if c[1] == loop
                     and not isinstance(stacked([c[0], trainer]), str)), None)
        if same is None:
            classes.append((trainer, loop, list(row)))
        else:
            same[2].extend(row)
    cost = {}  # the FLOPs of each run, from one step of its row's trainer (after the probes
    for row, trainer, steps in probes:  # of stacking: it steps)
        cost.update(dict.fromkeys(row, float(step_flops(trainer) * steps)))
    units = [tuple(part) for *_, members in classes for part in _cut(members, max_members)]
    units = _balance(units + [(job,) for job in alone], cost, workers)
    # what is left to train: reused runs train nothing, so their units go last
    left = {job: 0.0 if job in done else flops for job, flops in cost.items()}
    units.sort(key=lambda unit: -_time(unit, left))  # the longest first, as _balance counts
    sizes = [n for u in units if len(u) > 1 and (n := sum(job not in done for job in u))]
    if sizes:
        notes.append(f"{len(jobs) - len(done)} runs to train: {sum(sizes)} of them in "
                     f"{len(sizes)} shared computation(s) of {', '.join(map(str, sizes))} runs")
    return Packed(units, sum(left.values()), notes)


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


def _balance(units: list[tuple[Job, ...]], cost: dict[Job, float],
             workers: int) -> list[tuple[Job, ...]]:
    """``units`` with the longest pack cut in two or more (up to a part per worker: the cut that
    shortens the busiest worker's time most), again and again while that shortens it. Fewer,
    bigger packs are faster per run, but packs too few or too unequal leave workers idle at the
    end. It reads only the runs' full costs, finished or not, so that every attempt packs the
    same."""
    best = _makespan(units, cost, workers)
    while packs := [u for u in units if len(u) > 1]:
        biggest = max(packs, key=lambda unit: _time(unit, cost))
        i = units.index(biggest)
        cuts = [units[:i] + [tuple(part) for part in _cut(biggest, len(biggest), parts)]
                + units[i + 1:] for parts in range(2, min(workers, len(biggest)) + 1)]
        spans = [_makespan(cut, cost, workers) for cut in cuts]
        if not spans or min(spans) >= best:
            return units
        best = min(spans)
        units = cuts[spans.index(best)]
    return units
