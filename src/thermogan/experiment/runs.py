"""Run directories: start a run, resume it, reuse a finished one (benches), open one to evaluate
or sample.

A run is three steps: build (``experiment/build.py``) → fit (``train/loop.py``, with the
callbacks below) → score (``finish``: summary.json, and the family's figure of data against
samples); the other figures are drawn from the run's files by ``report/run_figures.py``, which
``thermogan report`` calls too.

Layout of ``runs/<name>/``::

    config.yaml        the resolved config
    metrics.jsonl      one JSON object per logged step; non-finite numbers are the strings "inf",
                       "-inf" and "nan" (read them back with thermogan.jsonio.restore_floats)
    events.*           TensorBoard events (when tensorboard is installed): scalars, and figures of
                       samples (report/live.py)
    checkpoints/       latest.pt (and step_N.pt with train.keep_checkpoints), written atomically,
                       each with its config and provenance; pending.pt only while the runs of a
                       shared computation write theirs (train/checkpoint.py)
    figures/           samples.png: data against generated samples; levels.png: one panel per
                       temperature level; fd_mnist.png: tracked fd_mnist (image runs); the
                       others of report/run_figures.py
    fd_mnist.jsonl     fd_mnist every eval.track_every steps (image runs that track it)
    summary.json       final metrics with the protocol that produced them
    eval.json          written by `thermogan eval`

A seed sweep (``thermogan train CONFIG --seeds 0-31 --out DIR``) keeps one such run per seed in
``DIR/seed<s>/`` and their metrics across seeds in ``DIR/sweep.json`` (``experiment/seeds.py``).

summary.json, eval.json and each checkpoint hold a ``provenance`` record: thermogan, torch, numpy
and Python versions, the git commit (when run from a checkout), device and thread count
(``thermogan.provenance``).
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Sequence
from contextlib import AbstractContextManager, nullcontext
from pathlib import Path
from typing import Any

import yaml

from thermogan.errors import CheckpointError, ConfigError, DivergenceError, ThermoganError
from thermogan.experiment import config as config_mod
from thermogan.experiment import lock, scoring
from thermogan.experiment.build import build_trainer, resolve_device
from thermogan.experiment.config import ExperimentConfig
from thermogan.experiment.mnist_scorer import MnistScorer
from thermogan.experiment.scorer import real_and_fake
from thermogan.experiment.tracking import FdTrack
from thermogan.jsonio import restore_floats, write_json
from thermogan.provenance import provenance
from thermogan.report import run_figures
from thermogan.report.figures import side_by_side
from thermogan.report.images import image_panels
from thermogan.report.live import live_figures
from thermogan.report.snapshots import level_snapshots, periodic_snapshots
from thermogan.train import distributed
from thermogan.train.checkpoint import load_checkpoint
from thermogan.train.loop import fit
from thermogan.train.trainer import Trainer

#: Figures of samples a run sends to TensorBoard (at most, evenly spaced, one per log line at
#: most often), when train.tensorboard is on and TensorBoard is installed
LIVE_FIGURES = 20

#: Config keys that may change when a run is resumed: train for longer, lower the learning rate
#: after a divergence, score differently, move to another device or thread count.
RESUMABLE_CHANGES = ("train.", "optim.", "eval.", "device", "threads")


def latest_checkpoint(run_dir: Path) -> Path:
    return Path(run_dir) / "checkpoints" / "latest.pt"


def member_dir(run_dir: Path, seed: int) -> Path:
    """Where a seed sweep (``thermogan train CONFIG --seeds``) keeps the run of ``seed``."""
    return Path(run_dir) / f"seed{seed}"


def member_seed(member: Path) -> int:
    """The seed of a sweep's member directory (``member_dir``'s inverse)."""
    return int(Path(member).name.removeprefix("seed"))


def member_dirs(run_dir: Path) -> list[Path]:
    """The member directories of a seed sweep that hold a checkpoint, by seed ([] for the
    directory of a run, or of nothing)."""
    if latest_checkpoint(run_dir).exists():
        return []
    found = [d for d in Path(run_dir).glob("seed*")
             if re.fullmatch(r"seed\d+", d.name) and latest_checkpoint(d).exists()]
    return sorted(found, key=member_seed)


def expand_sweeps(run_dirs: Sequence[Path]) -> list[Path]:
    """The runs named, where a seed sweep's directory stands for its members."""
    return [run for run_dir in run_dirs for run in member_dirs(run_dir) or [Path(run_dir)]]


def start(cfg: ExperimentConfig, run_dir: Path,
          device: str | None = None) -> tuple[Trainer, dict[str, Any]]:
    """Train ``cfg`` from scratch into ``run_dir``; returns the Trainer and the final summary.

    The resolved config records ``train.schedule_steps``: the run's schedules are fixed now.
    """
    _check_free(run_dir)
    cfg = cfg.with_fixed_schedules()
    trainer = build_trainer(cfg, resolve_device(device or cfg.device))
    distributed.attach(trainer, cfg.seed)
    scorer = run_scorer(cfg)  # every check before anything is written
    with writing(trainer, run_dir):
        if trainer.replicas.is_main:
            _check_free(run_dir)  # again: a process may have finished a run here meanwhile
            config_mod.save(cfg, run_dir / "config.yaml")
        return trainer, _fit(trainer, cfg, run_dir, scorer, resumed=False)


def check(cfg: ExperimentConfig, device: str | None = None) -> str:
    """Every check ``start`` makes before it writes (the config, its components, the data, the
    scorer), without training or writing anything; returns a line saying what would train."""
    cfg = cfg.with_fixed_schedules()
    trainer = build_trainer(cfg, resolve_device(device or cfg.device))
    run_scorer(cfg)
    sizes = [sum(p.numel() for p in net.parameters()) for net in (trainer.G, trainer.D)]
    return (f"ready: {cfg.name}, G {sizes[0]:,} and D {sizes[1]:,} parameters, "
            f"{cfg.train.steps:,} steps of batch {cfg.train.batch_size} on {trainer.device}; "
            "nothing was written")


def _check_free(run_dir: Path) -> None:
    if latest_checkpoint(run_dir).exists():
        raise ThermoganError(f"{run_dir} already holds a run; continue it with --resume {run_dir} "
                             "or choose another folder with --out")


def writing(trainer: Trainer, run_dir: Path) -> AbstractContextManager[None]:
    """The lock of ``run_dir`` (``experiment/lock.py``), held by the process that writes it: the
    main one of data-parallel replicas."""
    return lock.hold(run_dir) if trainer.replicas.is_main else nullcontext()


def changed_keys(old: dict[str, Any], new: dict[str, Any], prefix: str = "") -> list[str]:
    """Dotted keys whose values differ between two config dicts."""
    keys = []
    for key in sorted(set(old) | set(new)):
        a, b = old.get(key), new.get(key)
        if isinstance(a, dict) and isinstance(b, dict):
            keys += changed_keys(a, b, f"{prefix}{key}.")
        elif a != b:
            keys.append(f"{prefix}{key}")
    return keys


def check_reusable(cfg: ExperimentConfig, run_dir: Path) -> None:
    """Raise ThermoganError when ``run_dir`` holds a run whose config differs from ``cfg`` in
    more than its device; an empty or missing folder passes."""
    stored_path = Path(run_dir) / "config.yaml"
    if not stored_path.exists():
        return
    stored = config_mod.load(stored_path).with_fixed_schedules().to_dict()
    wanted = cfg.with_fixed_schedules().to_dict()
    changed = [key for key in changed_keys(stored, wanted) if key != "device"]
    changed.sort(key=lambda key: key == "train.schedule_steps")  # derived: name its cause first
    if changed:
        raise ThermoganError(f"{run_dir} holds a run whose {changed[0]} differs from this "
                             "bench's; choose another --out")


def train_or_reuse(cfg: ExperimentConfig, run_dir: Path, device: str = "cpu") -> dict[str, Any]:
    """The summary of ``cfg`` trained in ``run_dir``, read from its summary.json (non-finite
    numbers as floats): a finished run is reused, an interrupted one (a checkpoint, no summary)
    resumed, otherwise one is started; a run that diverges gives its summary too (``diverged``).
    A run of another config in ``run_dir`` raises ThermoganError (see ``check_reusable``)."""
    run_dir = Path(run_dir)
    check_reusable(cfg, run_dir)
    if not (run_dir / "summary.json").exists():
        try:
            if latest_checkpoint(run_dir).exists():
                resume(run_dir, cfg, device=device)
            else:
                start(cfg, run_dir, device)
        except DivergenceError:
            pass  # its summary.json says so
    return read_summary(run_dir)


def read_summary(run_dir: Path) -> dict[str, Any] | None:
    """The run's summary.json (non-finite numbers as floats); None before the run finished."""
    path = Path(run_dir) / "summary.json"
    return restore_floats(json.loads(path.read_text())) if path.exists() else None


def resume(run_dir: Path, cfg: ExperimentConfig | None = None,
           overrides: list[str] | tuple[str, ...] = (), device: str | None = None,
           announce: Callable[[str], None] | None = None) -> tuple[Trainer, dict[str, Any]]:
    """Continue the run in ``run_dir`` from its latest checkpoint.

    ``cfg`` (from the command line) must agree with the stored config except for the keys in
    RESUMABLE_CHANGES, which ``overrides`` may change (e.g. ``train.steps=40000``). The run keeps
    its ``train.schedule_steps``: training longer continues at the schedules' cold end.
    ``announce`` is handed "resumed from step N of M" once every check has passed.
    """
    trainer, wanted = resumed_trainer(run_dir, cfg, overrides, device)
    scorer = run_scorer(wanted)  # every check before anything is written
    with writing(trainer, run_dir):
        if trainer.replicas.is_main:
            if announce is not None:
                announce(f"resumed from step {trainer.step} of {wanted.train.steps}")
            config_mod.save(wanted, run_dir / "config.yaml")
        return trainer, _fit(trainer, wanted, run_dir, scorer, resumed=True)


def resumed_trainer(run_dir: Path, cfg: ExperimentConfig | None = None,
                    overrides: list[str] | tuple[str, ...] = (),
                    device: str | None = None) -> tuple[Trainer, ExperimentConfig]:
    """The trainer of ``run_dir`` at its latest checkpoint, and the config it continues with
    (checked as ``resume`` describes); nothing is written."""
    state = load_checkpoint(latest_checkpoint(run_dir))
    stored = config_mod.from_dict(state["config"]).with_fixed_schedules()
    wanted = cfg or config_mod.from_dict(stored.to_dict())
    if overrides:
        wanted = config_mod.from_dict(config_mod.apply_overrides(wanted.to_dict(),
                                                                 list(overrides)))
    wanted = wanted.model_copy(update={"train": wanted.train.model_copy(
        update={"schedule_steps": stored.train.schedule_steps})})
    for key in changed_keys(stored.to_dict(), wanted.to_dict()):
        if not key.startswith(RESUMABLE_CHANGES):
            raise ConfigError(f"{key} differs from the run in {run_dir}; only train.*, optim.*, "
                              "eval.* and device may change when resuming")
    trainer = build_trainer(wanted, resolve_device(device or wanted.device))
    distributed.attach(trainer, wanted.seed)
    _load_into(trainer, state, latest_checkpoint(run_dir))
    return trainer, wanted


def _load_into(trainer: Trainer, state: dict[str, Any], path: Path) -> None:
    try:
        trainer.load_state_dict(state)
    except (KeyError, RuntimeError, ValueError) as err:
        reason = str(err).strip().splitlines()[0]
        raise CheckpointError(f"checkpoint {path} does not fit its config ({reason})") from None


def run_scorer(cfg: ExperimentConfig) -> MnistScorer | None:
    """The image scorer of the run (a missing classifier fails here, before training), checked
    against ``eval.track_every``, which needs one."""
    scorer = scoring.prepare(cfg)
    if cfg.eval.track_every is not None and scorer is None:
        raise ConfigError(f"eval.track_every={cfg.eval.track_every}: fd_mnist tracking needs "
                          f"MNIST or Stacked MNIST data, not {cfg.data.kind!r}")
    return scorer


def callbacks(trainer: Trainer, cfg: ExperimentConfig, run_dir: Path,
              scorer: MnistScorer | None, resumed: bool) -> list[Any]:
    """What a run does besides training, called after every step: level snapshots, periodic
    snapshots, tracked fd_mnist, figures for TensorBoard (each acts only on the steps it is
    due); none on a data-parallel replica other than the main one."""
    if not trainer.replicas.is_main:  # only the main data-parallel replica writes
        return []
    t, ev = cfg.train, cfg.eval
    image = trainer.data.is_image
    out: list[Any] = []
    if len(trainer.temperings):  # without a tempering, there are no levels to show
        out.append(level_snapshots(run_dir, t.steps, n=36 if image else 1000, seed=ev.seed))
    if t.tensorboard:  # None where TensorBoard is not installed
        live = live_figures(run_dir, live_every(cfg), t.steps, n=36 if image else 500,
                            seed=ev.seed, resume_step=trainer.step if resumed else None)
        out += [live] if live else []
    if ev.snapshot_every is not None:
        out.append(periodic_snapshots(run_dir, ev.snapshot_every, t.steps,
                                      n=16 if image else 1000, seed=ev.seed))
    if ev.track_every is not None:  # run_scorer made sure there is a scorer
        out.append(FdTrack(run_dir, scorer, ev.track_every, ev.track_samples, ev.seed,
                           ev.use_ema, trainer.step if resumed else None))
    return out


def live_every(cfg: ExperimentConfig) -> int:
    """Steps between the figures a run sends to TensorBoard (``report/live.py``)."""
    return max(cfg.train.log_every, cfg.train.steps // LIVE_FIGURES)


def _fit(trainer: Trainer, cfg: ExperimentConfig, run_dir: Path, scorer: MnistScorer | None,
         resumed: bool) -> dict[str, Any] | None:
    """Train, then ``finish`` (None on a data-parallel replica other than the main one); a run
    that diverged is finished as such, then raises its DivergenceError."""
    t = cfg.train
    started = time.perf_counter()
    diverged = fit(trainer, run_dir, steps=t.steps, config=cfg.to_dict(), log_every=t.log_every,
                   checkpoint_every=t.checkpoint_every, keep_checkpoints=t.keep_checkpoints,
                   progress=t.progress, tensorboard=t.tensorboard, resumed=resumed,
                   callbacks=callbacks(trainer, cfg, run_dir, scorer, resumed))
    error = diverged.get(0)
    summary = (finish(trainer, cfg, run_dir, scorer, time.perf_counter() - started, error)
               if trainer.replicas.is_main else None)
    if error is not None:
        raise error
    return summary


def finish(trainer: Trainer, cfg: ExperimentConfig, run_dir: Path, scorer: MnistScorer | None,
           seconds: float, diverged: DivergenceError | None = None) -> dict[str, Any]:
    """The end of a run: score it into summary.json with the family's figure of data against
    samples, then the figures of its files (``report/run_figures.py``); returns the summary.
    A run whose loss became NaN or infinite (``diverged``) is not scored: its summary.json
    records where (``diverged``: step, loss, value) and holds no metrics; its last good
    checkpoint stays, and a bench counts it as diverged, out of its means."""
    if diverged is not None:
        summary = {"diverged": diverged.record, "metrics": {},
                   "protocol": {"dataset": cfg.data.kind, "step": diverged.record["step"],
                                "note": str(diverged)},
                   "provenance": provenance(trainer.device), "train_seconds": seconds}
        write_json(summary, run_dir / "summary.json")
        return summary
    summary = scoring.evaluate(cfg, trainer, scorer)
    summary["train_seconds"] = seconds
    write_json(summary, run_dir / "summary.json")
    figure(cfg, trainer, run_dir / "figures" / "samples.png", summary)
    run_figures.draw(run_dir)
    return summary


def open_run(run_dir: Path, device: str | None = None,
             threads: int | None = None) -> tuple[ExperimentConfig, Trainer]:
    """The config and trained Trainer of a finished (or interrupted) run (on ``threads`` CPU
    threads when given, else as its config says)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        why = "is a file, not a run's folder" if run_dir.exists() else "does not exist"
        raise CheckpointError(f"run directory {run_dir} {why}")
    members = member_dirs(run_dir)
    if members:
        raise CheckpointError(f"{run_dir} is a seed sweep of {len(members)} runs "
                              f"({members[0].name} to {members[-1].name}): name one of them, "
                              f"e.g. {members[0]}")
    summary = None if latest_checkpoint(run_dir).exists() else read_summary(run_dir)
    if summary is not None and "diverged" in summary:
        raise CheckpointError(f"{run_dir} {scoring.diverged_line(summary['diverged'])} before "
                              "its first checkpoint: it holds no weights")
    state = load_checkpoint(latest_checkpoint(run_dir))
    try:
        cfg = config_mod.from_dict(state["config"])
    except ConfigError as err:
        raise CheckpointError(f"checkpoint {latest_checkpoint(run_dir)} holds a config that "
                              f"this version cannot read ({err})") from None
    if threads is not None:
        cfg = cfg.model_copy(update={"threads": threads})
    trainer = build_trainer(cfg, resolve_device(device or "cpu"))
    # reading weights never needs the replicas' random streams of a torchrun run (only a
    # resume does): the streams of rank 0, which are a single run's, are enough
    state = {key: value for key, value in state.items() if key != "rng_replicas"}
    _load_into(trainer, state, latest_checkpoint(run_dir))
    return cfg, trainer


def run_labels(run_dirs: list[Path], names: list[str]) -> list[str]:
    """How reports call runs: by name, or by directory where runs of one config share a name."""
    return [name if names.count(name) == 1 else str(run_dir)
            for run_dir, name in zip(run_dirs, names)]


def compare(run_dirs: list[Path], out: Path) -> list[str]:
    """Rows of metrics (from each run's summary.json) and a side-by-side figure of the runs."""
    rows, panels, images = [], [], False
    opened = [(run_dir, *open_run(run_dir)) for run_dir in run_dirs]
    names = run_labels(run_dirs, [cfg.name for _, cfg, _ in opened])
    for (run_dir, cfg, trainer), label in zip(opened, names):
        images = trainer.data.is_image
        summary = read_summary(run_dir) or scoring.evaluate(cfg, trainer)
        rows.append(f"{label:<22} {scoring.format_metrics(summary)}")
        real, fake = real_and_fake(cfg, trainer, 64 if images else scoring.eval_samples(cfg))
        panels.append((f"{label}\n{scoring.headline(summary)}", real, fake))
    if images:
        image_panels([(title, fake) for title, _, fake in panels], out, cols=len(panels),
                     size=3.6)
    else:
        side_by_side(panels, out)
    return rows


def html_report(run_dirs: list[Path], out: Path, figures: Sequence[Path] = ()) -> Path:
    """The runs' page for a browser (``report/html.py``): metrics with their protocols, resolved
    configs with the keys that differ between runs highlighted, logged curves, every figure."""
    from thermogan.report import html  # Jinja2 and Markdown: only for reports

    configs = []
    for run_dir in run_dirs:
        path = Path(run_dir) / "config.yaml"
        if not path.is_file():
            raise ThermoganError(f"{run_dir}: not a run directory (no config.yaml)")
        configs.append(yaml.safe_load(path.read_text()))
    differing = {key for i, a in enumerate(configs) for b in configs[i + 1:]
                 for key in changed_keys(a, b)}
    views = []
    for run_dir, cfg, label in zip(run_dirs, configs,
                                   run_labels(run_dirs, [c.get("name", "") for c in configs])):
        views.append(html.RunView(label, Path(run_dir), cfg, read_summary(run_dir)))
    return html.run_report(views, differing, out, figures)


def figure(cfg: ExperimentConfig, trainer: Trainer, path: Path,
           summary: dict[str, Any] | None = None) -> Path:
    """Data against samples as the data's family draws them (a scatter, grids of images, the
    target density with the samples on it), titled with the metrics when given."""
    title = f"{cfg.name}, step {trainer.step}"
    if summary:
        title += f"\n{scoring.headline(summary)}"
    return scoring.figure(cfg, trainer, path, title)

