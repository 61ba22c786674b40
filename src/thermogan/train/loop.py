"""The training loop around the training step of S ≥ 1 runs (``Members.train_step``): progress
bar, logs, checkpoints, NaN guard, each run in its own directory.

Losses stay on the device between log lines; at each log line and before each checkpoint they are
checked, so a NaN or Inf stops the run with the exact step at which it appeared, before any
checkpoint holding it could be written: the last good checkpoint is kept. A member that diverges
leaves the shared step's logs, checkpoints and callbacks, and the others go on (its stacked
slice is still computed, apart: nothing of one member reaches another's); ``fit`` returns each
diverged member's ``DivergenceError``.

Ctrl-C stops a run after the step in progress and saves its checkpoints (``train/interrupt.py``).

Progress goes to stderr (``train/logging.py``'s ``progress_bar``). Each checkpoint records the run's
``provenance`` (``thermogan.provenance``); the runs of a shared step write theirs so that a kill
leaves them at one step (``train/checkpoint.py``'s ``commit``).
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from thermogan.errors import DivergenceError
from thermogan.provenance import provenance
from thermogan.train.checkpoint import commit, pending_path, save_checkpoint
from thermogan.train.interrupt import Interrupted, between_steps
from thermogan.train.logging import MetricsLog, progress_bar
from thermogan.train.members import Members
from thermogan.train.trainer import Trainer


def _check_finite(pending: list[dict[str, torch.Tensor]], first_step: int,
                  last_checkpoint: str) -> dict[str, float]:
    """Mean of each loss over the steps of ``pending`` that logged it (a G term whose weight is
    0 is not computed, so not logged); DivergenceError at the first non-finite value."""
    means = {}
    for key in dict.fromkeys(k for p in pending for k in p):
        steps = [i for i, p in enumerate(pending) if key in p]
        values = torch.stack([pending[i][key] for i in steps]).float().cpu()  # (n,)
        bad = (~torch.isfinite(values)).nonzero()
        if len(bad):
            i = steps[int(bad[0])]
            value, step = values[int(bad[0])].item(), first_step + i + 1
            raise DivergenceError(f"{key} became {value} at step {step}; training stopped, "
                                  f"{last_checkpoint}", step, key, value)
        means[key] = values.mean().item()
    return means


def fit(runs: Trainer | Members, run_dirs: str | Path | Sequence[str | Path], *, steps: int,
        config: dict[str, Any] | Sequence[dict[str, Any]], log_every: int = 100,
        checkpoint_every: int = 5000, keep_checkpoints: bool = False, progress: bool = True,
        tensorboard: bool = True, resumed: bool = False,
        callbacks: Sequence[Any] = ()) -> dict[int, DivergenceError]:
    """Train until the step is ``steps``, each member logging and checkpointing into its own
    run directory as its single run would, or until every member diverged; returns the
    ``DivergenceError`` of each member that diverged, by its index.

    ``runs``: one Trainer (with one run directory, config and list of callbacks) or the
    ``Members`` of a shared step (with one of each per member). Each callback is called with
    its member after every step (figures, snapshots, tracked metrics); a callback with a
    ``close`` method is closed when training ends or fails. A data-parallel replica
    (``train/distributed.py``) logs the losses averaged over the replicas; only the main one
    shows progress, writes logs and checkpoints, and calls the callbacks.
    """
    if not isinstance(runs, Members):
        runs, run_dirs, config, callbacks = runs.members, [run_dirs], [config], [callbacks]
    members = runs.members
    main = members[0].replicas.is_main
    callbacks = [list(c) for c in callbacks] if main else []
    latest = [Path(d) / "checkpoints" / "latest.pt" for d in run_dirs]
    # each checkpoint names the run folders of its computation, relative to its own, in order
    shared = [[os.path.relpath(d, own) for d in run_dirs] for own in run_dirs]
    where = [""] * len(members) if len(members) == 1 else [f"{d}: " for d in run_dirs]
    saved = [f"the last good checkpoint is {path} (step {runs.step})" if resumed
             else "no checkpoint had been written yet" for path in latest]
    logs = ([MetricsLog(d, runs.step if resumed else None, tensorboard) for d in run_dirs]
            if main else [])
    name = config[0].get("name", "train") + (f" ×{len(members)}" if len(members) > 1 else "")
    bar = progress_bar(steps, runs.step, name, progress and main)
    pending: list[dict[str, torch.Tensor]] = []
    first, started = runs.step, time.perf_counter()

    diverged: dict[int, DivergenceError] = {}

    def means(s: int) -> dict[str, float] | None:
        """Member s's means, checked finite; None once it diverged on any data-parallel replica
        (the first one's error, in rank order: every replica decides alike)."""
        try:
            values, error = _check_finite([{k: v[s] for k, v in p.items()} for p in pending],
                                          first, where[s] + saved[s]), None
        except DivergenceError as err:
            values, error = None, err
        errors = [e for e in members[s].replicas.gather(error) if e is not None]
        if errors:
            diverged[s] = errors[0]
            return None
        return values

    def live() -> list[int]:
        return [s for s in range(len(members)) if s not in diverged]
    try:
        with between_steps(members[0].replicas.size == 1) as asked:
            while runs.step < steps and live():
                pending.append(runs.train_step())
                step, done = runs.step, runs.step == steps
                bar.update(1)
                for s in live() if callbacks else ():
                    for callback in callbacks[s]:
                        callback(members[s])
                if step % log_every == 0 or done:
                    now = time.perf_counter()
                    rate = (step - first) / (now - started)
                    for s in live():
                        values = means(s)
                        if values is None:
                            continue
                        values, levels = members[s].replicas.mean(values), runs.describe(s)
                        if logs:
                            logs[s].write({"step": step, **values, **levels,
                                           "steps_per_s": rate})
                        if s == live()[0]:
                            bar.set_postfix({k: f"{v:.3g}"
                                             for k, v in {**levels, **values}.items()})
                    pending, first, started = [], step, now
                if step % checkpoint_every == 0 or done or asked.is_set():
                    for s in live() if pending else ():
                        means(s)
                    _write_checkpoints(runs, live(), latest, config, shared, keep_checkpoints)
                    saved = [f"the last good checkpoint is {path} (step {step})"
                             for path in latest]
                if asked.is_set() and not done:
                    raise Interrupted(f"interrupted at step {step} of {steps}; its checkpoint "
                                      "is saved", step)
        return diverged
    finally:
        bar.close()
        for log in logs:
            log.close()
        for member_callbacks in callbacks:
            for callback in member_callbacks:
                getattr(callback, "close", lambda: None)()


def _write_checkpoints(runs: Members, live: list[int], latest: list[Path],
                       config: Sequence[dict[str, Any]], shared: list[list[str]],
                       keep: bool) -> None:
    """The live members' checkpoints: a single run's as its latest; a shared step's as each
    run's pending state, then committed together (``checkpoint.commit``), so that a kill leaves
    them at one step."""
    if not live:
        return
    one = len(latest) == 1
    members = runs.sync()
    for s in live:
        path = latest[s] if one else pending_path(latest[s])
        _write_checkpoint(members[s], path, config[s], keep, shared[s])
    if not one and members[0].replicas.is_main:
        commit([latest[s] for s in live])


def _write_checkpoint(trainer: Trainer, path: Path, config: dict[str, Any], keep: bool,
                      shared_with: list[str]) -> None:
    """Save the trainer's state with its config, provenance and the run folders it trains with
    (``shared_with``, relative to its own: a begun pack resumes with them, ``bench/packing.py``)
    (plain types: a weights-only load reads it) as ``path`` (its latest, or its pending state:
    ``checkpoint.commit``), and as ``step_N.pt`` beside it when ``keep``. Every data-parallel
    replica takes part (their random streams are gathered); the main one writes."""
    trainer.replicas.check_agreement([trainer.G, trainer.D])
    state = {**trainer.state_dict(), "config": config, "provenance": provenance(trainer.device),
             "shared_with": shared_with}
    if not trainer.replicas.is_main:
        return
    save_checkpoint(state, path)
    if keep:
        save_checkpoint(state, path.with_name(f"step_{trainer.step}.pt"))
