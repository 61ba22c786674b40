"""Variational annealing on MNIST (Tao et al. 2019, "Variational Annealing of GANs: A Langevin
Perspective"; docs/variational.md): static λ = 0 against the dynamic schedules PMA, NMA and OA, over
seeds, from the same initial G, D and denoiser.

``configs/va_mnist_cpu.yaml`` is the reduced CPU protocol of the slides' Table 1 (RKL-GAN, DCGAN,
the score term on D's penultimate features from a denoising autoencoder). Every method is that
config with ``regulariser.weight`` set: 0 for the control (its denoiser trains all the same, so
the methods differ in the weight only), else the preset laid over the run's N steps::

    static 0: λ = 0 · PMA: −B → 0 at 0.8N · NMA: +B → 0 at 0.8N · OA: a zigzag from −B,
    half-period N/15 (the authors' 150,000/10,000), 0 after N

with B the protocol's bound (our λ: > 0 sharpens, < 0 broadens; the config's header says why
0.5). Weights are drawn from the run seed before the term exists and every random stream is
named by its consumer (``train/rng.py``), so the methods of a seed start from the same G, D and
denoiser and see the same data and latents. Scores: fd_mnist of the final samples (mean ± SE
over seeds, its ratio to static 0 and the seeds where a method beats static 0, paired by seed;
each method tested against static 0 with the Wilcoxon signed-rank test)
and fd_mnist tracked over training (``curves.png``, beside λ(t)).

Protocols:
- reduced (the default): 3 seeds of 2,500 steps, 5,000 samples scored, 1,000 tracked every
  250 steps; measured 38 minutes on 1 worker of a shared 2-core CPU (12 runs).
- quick: 3 seeds of 250 steps, 1,000 samples scored, 500 tracked every 50 steps; measured 8.5
  minutes on 1 worker (the GAN barely moves in 250 steps: a check that everything runs).
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from thermogan.bench.engine import Bench, Column, Job, known, scored
from thermogan.errors import UsageError
from thermogan.experiment.config import SHIPPED

#: method -> the preset of its λ(t) (None: λ = 0 throughout)
METHODS: dict[str, str | None] = {"static 0": None, "PMA": "pma", "NMA": "nma", "OA": "oa"}
CONTROL = "static 0"
OA_HALF_PERIODS = 15  # OA's half-periods in a run: the authors' 150,000 / 10,000 steps
SLUG = re.compile(r"\W+")  # a method's name in its run folder: static 0 -> static_0


@dataclass(frozen=True)
class Protocol:
    seeds: int = field(default=3, metadata={"help": "seeds per method"})
    steps: int | None = field(default=None, metadata={"help": "steps per run"})
    bound: float = field(default=0.5, metadata={"help": "B of the dynamic schedules"})
    overrides: tuple[str, ...] = field(default=(), metadata={"cli": False})  # of every run
    methods: tuple[str, ...] = field(default=(), metadata={
        "help": f"comma-separated subset of: {', '.join(METHODS)}"})
    config: Path = SHIPPED / "va_mnist_cpu.yaml"
    device: str = field(default="cpu", metadata={"help": "cpu, cuda, ..."})


QUICK = Protocol(steps=250, overrides=("eval.samples=1000", "eval.track_every=50",
                                       "eval.track_samples=500"))


def weight(method: str, steps: int, bound: float) -> float | dict[str, Any]:
    """The ``regulariser.weight`` of ``method`` in a run of ``steps``: 0 or its preset."""
    kind = METHODS[method]
    if kind is None:
        return 0.0
    spec: dict[str, Any] = {"kind": kind, "total_steps": steps, "bound": bound}
    if kind == "oa":
        spec["half_period"] = max(1, steps // OA_HALF_PERIODS)
    return spec


def _check_config(path: Path) -> int:
    """The config's steps, after checking that it has one score regulariser to weight."""
    from thermogan.experiment import config
    from thermogan.experiment.config import Component

    if not path.is_file():
        raise UsageError(f"config {path} does not exist (--config names the control, e.g. "
                         "configs/va_mnist_cpu.yaml)")
    cfg = config.load(path)
    if not isinstance(cfg.regulariser, Component) or cfg.regulariser.kind != "score":
        raise UsageError(f"config {path}: expected one regulariser of kind score (the bench sets "
                         "its weight)")
    return cfg.train.steps


def plan(p: Protocol, out: Path) -> list[Job]:
    """Every (method, seed) run, seed by seed (an interrupted bench has whole comparisons)."""
    known("--methods", "method", p.methods, METHODS)
    if not p.bound > 0:
        raise UsageError(f"--bound {p.bound}: must be > 0 (the presets set the sign)")
    config_steps = _check_config(p.config)
    steps = p.steps or config_steps
    jobs = []
    for seed in range(p.seeds):
        for method in (m for m in METHODS if not p.methods or m in p.methods):
            name = f"annealing_{SLUG.sub('_', method)}_seed{seed}"
            overrides = [f"regulariser.weight={json.dumps(weight(method, steps, p.bound))}",
                         f"train.steps={steps}", f"train.checkpoint_every={steps}",
                         *p.overrides, f"seed={seed}", f"name={name}",
                         "train.progress=false", "train.tensorboard=false"]
            jobs.append(Job((("method", method),), seed, p.config, tuple(overrides),
                            out / "runs" / name, p.device))
    return jobs


def result(job: Job, summary: dict[str, Any], p: Protocol) -> dict[str, Any]:
    """A run's scores, tracked fd_mnist and λ(t) (its weight's spec)."""
    from thermogan.experiment import config
    from thermogan.experiment.tracking import read_track

    cfg = config.load(job.config, list(job.overrides))
    return {**scored(job, summary), "run_dir": str(job.run_dir), "steps": cfg.train.steps,
            "weight": cfg.regulariser.options()["weight"],
            "track": [[r["step"], r["fd_mnist"]] for r in read_track(job.run_dir)]}


def figures(results: list[dict[str, Any]], out: Path, p: Protocol | None = None) -> list[Path]:
    """``curves.png``: tracked fd_mnist per method over training (thin lines seeds, bold their
    mean) beside each method's λ(t)."""
    from matplotlib.figure import Figure

    from thermogan.report.curves import seed_curves
    from thermogan.report.figures import save_figure
    from thermogan.schedules import schedule_from_dict

    fig = Figure(figsize=(12.0, 4.4), layout="constrained")
    track_ax, weight_ax = fig.subplots(1, 2, width_ratios=(3, 2))
    for i, method in enumerate(METHODS):
        rs = [r for r in results if r["method"] == method]
        if not rs:
            continue
        seed_curves(track_ax, [r["track"] for r in rs], f"C{i}", method)
        steps = np.arange(rs[0]["steps"] + 1)
        lam = schedule_from_dict(rs[0]["weight"], "regulariser.weight")
        weight_ax.plot(steps, [lam(int(s)) for s in steps], color=f"C{i}", lw=1.5, label=method)
    track_ax.set(xlabel="training step", ylabel="fd_mnist (tracked samples)", yscale="log",
                 title="fd_mnist over training: thin lines seeds, bold lines their mean")
    weight_ax.set(xlabel="training step", ylabel="λ(t)  (> 0 sharpens, < 0 broadens)",
                  title="The weight of the score term")
    weight_ax.axhline(0, color="0.5", lw=0.6)
    for ax in (track_ax, weight_ax):
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # nothing tracked: no fd_mnist lines
            ax.legend(fontsize=8)
    return [save_figure(fig, out / "curves.png")]


def header(p: Protocol, label: str, results: list[dict[str, Any]], ran: str) -> str:
    first = results[0]["protocol"]
    return (f"Variational annealing on MNIST ({label}, {p.config.name}): {p.seeds} seed(s), the "
            f"same initial G, D and denoiser for every method; {first['step']} steps; dynamic "
            f"schedules with B = {p.bound:g}; fd_mnist of {first['samples']} samples against "
            f"the test set; wall time: training of one run on one thread; {ran}. Classifier "
            f"{first['classifier_sha256'][:12]}.")


BENCH = Bench(
    "annealing", "variational annealing on MNIST: static λ = 0 against PMA, NMA and OA (Tao et "
    "al. 2019's Table 1, reduced)", Protocol(), QUICK, plan, header,
    (Column("fd_mnist", "fd_mnist", ".1f"),), result, baseline=("method", CONTROL), paired=True,
    ratio="fd_mnist", figures=figures,
    record=lambda p: {**asdict(p), "methods": METHODS, "oa_half_periods": OA_HALF_PERIODS})
