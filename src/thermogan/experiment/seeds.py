"""Runs trained together: a list of (config, run folder) pairs as one shared computation
(``together``, which benches use to pack runs of any method), and seed sweeps of one config,
their special case: ``thermogan train CONFIG --seeds 0-31``.

Each run keeps its own folder with the layout of any run (config, metrics.jsonl, checkpoints,
summary.json, figures); a seed s of a sweep is the config with ``seed: s`` in
``RUN_DIR/seed<s>/``, and ``RUN_DIR/sweep.json`` holds every member's metrics and each metric's
mean and standard error across the seeds (``across``). Runs that stand at the same step, share
the loop's settings and stack (``stacked``: the step's own rule) train as stacked members of
one step (``train/members.py``, ``train/ensemble.py``), each member's run its single run up to
floating-point rounding; the others train one after another. A finished run is reused, a begun
one resumes from its checkpoint (``--resume RUN_DIR`` continues every member of a sweep).

Under torchrun every process trains the same members on its rows of each member's batch
(``train/distributed.py``); the main one alone writes (folders, locks, sweep.json, summaries),
and the others return no summaries."""

from __future__ import annotations

import math
import re
import time
from collections import Counter
from collections.abc import Callable, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from thermogan.errors import DivergenceError, ThermoganError, UsageError
from thermogan.experiment import config as config_mod
from thermogan.experiment import lock, runs
from thermogan.experiment.build import build_trainer, resolve_device
from thermogan.experiment.config import ExperimentConfig
from thermogan.experiment.footprint import check_sweep_fits
from thermogan.experiment.layout import SWEEP
from thermogan.jsonio import write_json
from thermogan.metrics.summary import PERCENT, mean_se, to_error
from thermogan.train import distributed
from thermogan.train.checkpoint import settle, wait_settled
from thermogan.train.ensemble import not_stacked, unsupported
from thermogan.train.loop import fit
from thermogan.train.members import Members
from thermogan.train.trainer import Trainer


def parse_seeds(text: str) -> list[int]:
    """``"0-31"``, ``"0,3,5"`` or ``"0-3,8"`` -> the seeds, in order, each once."""
    seeds: list[int] = []
    for part in text.split(","):
        match = re.fullmatch(r"\s*(\d+)\s*(?:-\s*(\d+)\s*)?", part)
        if match is None or (match[2] is not None and int(match[2]) < int(match[1])):
            raise UsageError(f"--seeds {text!r}: expected seeds and ranges such as 0-31 or 0,3,5")
        last = int(match[2]) if match[2] is not None else int(match[1])
        seeds.extend(range(int(match[1]), last + 1))
    return list(dict.fromkeys(seeds))


def start(cfg: ExperimentConfig, run_dir: Path, seeds: list[int], device: str | None = None,
          announce: Callable[[str], None] = print) -> list[tuple[Path, dict[str, Any]]]:
    """Train ``cfg`` once per seed into ``run_dir/seed<s>/`` and write ``run_dir/sweep.json``
    (``across``); returns each member's (directory, summary)."""
    announce = _told(announce)
    with ExitStack() as held:  # _start takes the sweep's lock once its checks have passed
        done = _start(cfg, run_dir, seeds, device, announce, held)
        if distributed.main_process():
            write_json(across(done), Path(run_dir) / SWEEP)
    return done


def resume(run_dir: Path, overrides: list[str] | tuple[str, ...] = (),
           device: str | None = None, announce: Callable[[str], None] = print
           ) -> list[tuple[Path, dict[str, Any]]]:
    """Continue every member of the sweep in ``run_dir`` (overrides as ``runs.resume``), then
    rewrite its sweep.json."""
    announce = _told(announce)
    with ExitStack() as held:  # as start's
        done = _resume(run_dir, overrides, device, announce, held)
        if distributed.main_process():
            write_json(across(done), Path(run_dir) / SWEEP)
    return done


def _told(announce: Callable[[str], None]) -> Callable[[str], None]:
    """``announce`` in the process that reports (torchrun's main one), else silence."""
    return announce if distributed.main_process() else lambda _: None


def across(done: list[tuple[Path, dict[str, Any]]]) -> dict[str, Any]:
    """The sweep's record: each member's metrics (or where it diverged); each metric's mean and
    standard error over the members that did not diverge (``mean_se``: inf when a value is not
    finite) and how many gave each value that is not finite ({"inf": 3}: three infinite KLs);
    how many diverged; the scoring protocol and provenance the members share (the first
    finished member's)."""
    members = [{"run_dir": d.name, "seed": runs.member_seed(d), "metrics": s["metrics"],
                **({"diverged": s["diverged"]} if "diverged" in s else {})} for d, s in done]
    finished = [m for m in members if "diverged" not in m]
    first = next((s for _, s in done if "diverged" not in s), done[0][1])
    keys = [k for k, v in first["metrics"].items()
            if isinstance(v, (int, float)) and not isinstance(v, bool)]
    metrics = {}
    for key in keys:
        values = [float(m["metrics"][key]) for m in finished]
        mean, se = mean_se(values)
        metrics[key] = {"mean": mean, "se": se, "not_finite": dict(Counter(
            str(v) for v in values if not math.isfinite(v)))}
    return {"seeds": len(members), "diverged": len(members) - len(finished), "metrics": metrics,
            "members": members, "protocol": first["protocol"], "provenance": first["provenance"]}


def across_line(record: dict[str, Any]) -> str:
    """One line of a sweep's record: each metric's mean ± standard error over the seeds that did
    not diverge, or how many of them gave a value that is not finite."""
    n, lost, parts = record["seeds"], record.get("diverged", 0), []
    for key, m in record["metrics"].items():
        odd = ", ".join(f"{value} in {count} of {n - lost}"
                        for value, count in m["not_finite"].items())
        scale, unit = (100, "%") if key in PERCENT else (1, "")
        parts.append(f"{key} {odd or to_error(scale * m['mean'], scale * m['se'], unit)}")
    return (f"{count(n)}{f' ({lost} diverged)' if lost else ''}: "
            + ("  ".join(parts) or "no metric"))


def count(n: int) -> str:
    """"1 seed", "3 seeds"."""
    return f"{n} seed{'s' if n != 1 else ''}"


def _check_free(run_dir: Path, dirs: list[Path]) -> None:
    taken = [d for d in dirs if runs.latest_checkpoint(d).exists()]
    if taken:
        raise ThermoganError(f"{taken[0]} already holds a run; continue the sweep with --resume "
                             f"{run_dir} or choose another folder with --out")


def _start(cfg: ExperimentConfig, run_dir: Path, seeds: list[int], device: str | None,
           announce: Callable[[str], None], held: ExitStack) -> list[tuple[Path, dict[str, Any]]]:
    dirs = [runs.member_dir(run_dir, s) for s in seeds]
    _check_free(run_dir, dirs)
    cfg = cfg.with_fixed_schedules()
    first = build_trainer(cfg, resolve_device(device or cfg.device))
    check_sweep_fits(first, cfg.train.batch_size, len(seeds), run_dir,
                     together=unsupported(first) is None)
    runs.run_scorer(cfg)  # every check before anything is written
    _hold(held, run_dir)
    _check_free(run_dir, dirs)  # again: a process may have trained some of them meanwhile
    return _train([(cfg.model_copy(update={"seed": s}), d) for s, d in zip(seeds, dirs)], (),
                  device, announce)


def _resume(run_dir: Path, overrides: list[str] | tuple[str, ...], device: str | None,
            announce: Callable[[str], None], held: ExitStack
            ) -> list[tuple[Path, dict[str, Any]]]:
    dirs = runs.member_dirs(run_dir)
    if not dirs:
        raise ThermoganError(f"{run_dir} holds no seed sweep (no seed<N>/checkpoints/latest.pt)")
    _hold(held, run_dir)
    return _train([(None, d) for d in dirs], overrides, device, announce)


def together(pairs: Sequence[tuple[ExperimentConfig, Path]], device: str | None = None,
             announce: Callable[[str], None] = print) -> list[tuple[Path, dict[str, Any]]]:
    """Each (config, run folder) pair trained in its folder, with the layout of its single run,
    the pairs that can as one shared computation: a finished run is reused (its summary read),
    a begun one resumes from its checkpoint, the others start; returns each pair's (folder,
    summary), in order. Seed sweeps are the case of one config over many seeds."""
    done = {d: summary for _, d in pairs if (summary := runs.read_summary(d)) is not None}
    left = [(cfg, d) for cfg, d in pairs if d not in done]
    if left:
        done.update(_train(left, (), device, announce))
    return [(d, done[d]) for _, d in pairs]


def loop_key(cfg: ExperimentConfig) -> tuple[Any, ...]:
    """What the training loop takes once for all the members it trains (``train/loop.py``'s
    ``fit``): runs that differ in it cannot share one."""
    t = cfg.train
    return (t.steps, t.log_every, t.checkpoint_every, t.keep_checkpoints, t.progress,
            t.tensorboard)


def _train(pairs: list[tuple[ExperimentConfig | None, Path]], overrides: Sequence[str],
           device: str | None, announce: Callable[[str], None]
           ) -> list[tuple[Path, dict[str, Any]]]:
    """Train the runs (a config, or None: the one its checkpoint holds, with ``overrides``):
    those that stand at the same step and share the loop's settings (``loop_key``) as one
    stacked computation where they stack (``stacked``), the others one after another, each as
    its single run (``runs.start``, ``runs.resume``); returns each run's (folder, summary),
    in order."""
    latests = [runs.latest_checkpoint(d) for _, d in pairs]
    # a kill mid-write: one step again (written by the main process, awaited by the others)
    settle(latests) if distributed.main_process() else wait_settled(latests)
    groups: dict[tuple[Any, ...], list[tuple[Trainer, ExperimentConfig, Path]]] = {}
    for cfg, d in pairs:  # every run built, and so checked, before anything is written
        trainer, cfg = _built(cfg, d, overrides, device)
        groups.setdefault((trainer.step, *loop_key(cfg)), []).append((trainer, cfg, d))
    done: dict[Path, dict[str, Any]] = {}
    for group in groups.values():
        trainers, configs, dirs = (list(column) for column in zip(*group))
        members = stacked(trainers)
        if isinstance(members, Members):
            done.update(_fit(members, configs, dirs, announce))
            continue
        if len(group) > 1:
            announce(f"{members}: training {len(group)} runs one after another")
        for cfg, d in zip(configs, dirs):
            resumed = runs.latest_checkpoint(d).exists()
            try:
                done[d] = (runs.resume(d, cfg, overrides, device) if resumed
                           else runs.start(cfg, d, device))[1]
            except DivergenceError as err:  # its summary.json says so; the others go on
                announce(str(err))
                done[d] = runs.read_summary(d)
    return [(d, done[d]) for _, d in pairs]


def stacked(trainers: Sequence[Trainer]) -> Members | str:
    """The trainers as one stacked computation (``Members`` on ``Stacked``), or why they cannot
    be: why they do not stack (``ensemble.not_stacked``: one member, parts that stacking does
    not support, other networks or optimizers), or what they differ in that the step shares
    (``Members`` refuses them). Only stacked members gain: member by member (``Looped``), they
    would take no less time than one after another."""
    reason = not_stacked(trainers)
    if reason is not None:
        return reason
    try:
        return Members(trainers)
    except ValueError as err:
        return str(err)


def _built(cfg: ExperimentConfig | None, run_dir: Path, overrides: Sequence[str],
           device: str | None) -> tuple[Trainer, ExperimentConfig]:
    """The run's trainer, from its checkpoint when it has one (checked as ``runs.resume``
    checks), and the config it trains with."""
    if runs.latest_checkpoint(run_dir).exists():
        return runs.resumed_trainer(run_dir, cfg, overrides, device)
    cfg = cfg.with_fixed_schedules()
    trainer = build_trainer(cfg, resolve_device(device or cfg.device))
    distributed.attach(trainer, cfg.seed)  # torchrun: this process's replica of the run
    return trainer, cfg


def _fit(members: Members, configs: list[ExperimentConfig], dirs: list[Path],
         announce: Callable[[str], None]) -> dict[Path, dict[str, Any]]:
    """Train the members with each one's callbacks, then finish each member's run
    (``train_seconds`` is each member's share of the time)."""
    scorers = [runs.run_scorer(c) for c in configs]  # every check before anything is written
    t, step = configs[0].train, members.step
    resumed = step > 0
    with ExitStack() as held:
        main = distributed.main_process()
        for c, d in zip(configs, dirs) if main else ():
            held.enter_context(lock.hold(d))
            config_mod.save(c, d / "config.yaml")
        announce(f"resuming {len(dirs)} runs as one ensemble from step {step} of {t.steps}"
                 if resumed else f"training {len(dirs)} runs as one ensemble")
        callbacks = [runs.callbacks(m, c, d, s, resumed)
                     for m, c, d, s in zip(members.members, configs, dirs, scorers)]
        started = time.perf_counter()
        diverged = fit(members, dirs, steps=t.steps, config=[c.to_dict() for c in configs],
                       log_every=t.log_every, checkpoint_every=t.checkpoint_every,
                       keep_checkpoints=t.keep_checkpoints, progress=t.progress,
                       tensorboard=t.tensorboard, resumed=resumed, callbacks=callbacks)
        share = (time.perf_counter() - started) / len(dirs)
        for err in diverged.values():
            announce(str(err))
        return {d: runs.finish(m, c, d, sc, share, diverged.get(i)) if main else None
                for i, (m, c, d, sc) in enumerate(zip(members.sync(), configs, dirs, scorers))}


def _hold(held: ExitStack, run_dir: Path) -> None:
    """The lock of ``run_dir`` held until ``held`` closes, by the process that writes."""
    if distributed.main_process():
        held.enter_context(lock.hold(run_dir))
