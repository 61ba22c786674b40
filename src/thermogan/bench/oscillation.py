"""fd_mnist oscillation against the number of annealing levels K (Mehrjou et al., *Nonstationary
GANs*, Fig. 5): finer annealing should leave the generator oscillating less once it has settled.

For each K (and seed), β-GAN is trained on MNIST from one config with ``tempering.levels=K`` and
the same total budget, ``fd_mnist`` of a fixed set of latents is logged every M steps, and the
curve is low-pass filtered; after its knee, the mean max-to-min swing of the filtered curve is the
oscillation amplitude (``thermogan.metrics.oscillation`` gives the exact procedure).

Protocols:
- reduced (CPU, the default): configs/mnist_betagan_cpu.yaml, K = 2, 5, 10, 20, 2 seeds,
  8,000 steps, fd_mnist of 1,000 samples every 100 steps; about 12 minutes on 2 cores.
- quick: K = 2 and 10, 1 seed, 2,000 steps, every 50 steps; about 2 minutes.
- paper (GPU): ``--config configs/mnist_betagan.yaml --steps 100000 --every 100
  --window 50000`` (FID every 100 iterations, a 50k-iteration window after the knee).

Each K is tested against K = 2, paired by seed (the seed draws G and D before the tempering).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from thermogan.bench.engine import Bench, Column, Job
from thermogan.errors import UsageError
from thermogan.experiment.config import SHIPPED
from thermogan.metrics.summary import mean_se


@dataclass(frozen=True)
class Protocol:
    levels: tuple[int, ...] = field(default=(2, 5, 10, 20),
                                    metadata={"help": "comma-separated K"})
    seeds: int = field(default=2, metadata={"help": "seeds per K"})
    steps: int = field(default=8000, metadata={"help": "steps per run"})
    every: int = field(default=100, metadata={"help": "steps between fd_mnist evaluations"})
    samples: int = field(default=1000, metadata={"help": "samples per evaluation"})
    cutoff: float = field(default=0.1, metadata={"help": "low-pass cutoff per evaluation"})
    window: int | None = field(default=None, metadata={
        "help": "steps after the knee (None: to the end)"})
    config: Path = SHIPPED / "mnist_betagan_cpu.yaml"


QUICK = Protocol(levels=(2, 10), seeds=1, steps=2000, every=50)


def plan(p: Protocol, out: Path) -> list[Job]:
    if not p.config.is_file():
        raise UsageError(f"--config {p.config} does not exist")
    if p.steps < 10 * p.every:
        raise UsageError(f"--steps {p.steps} with --every {p.every} gives fewer than 10 "
                         "evaluations; the curve cannot be filtered")
    return [Job((("levels", k),), seed, p.config,
                (f"tempering.levels={k}", f"seed={seed}", f"train.steps={p.steps}",
                 f"eval.track_every={p.every}", f"eval.track_samples={p.samples}",
                 "train.progress=false", "train.tensorboard=false", f"name=K{k}_seed{seed}"),
                out / "runs" / f"K{k}_seed{seed}")
            for k in p.levels for seed in range(p.seeds)]


def result(job: Job, summary: dict[str, Any], p: Protocol) -> dict[str, Any]:
    """A run's tracked curve, and its knee, level and amplitude after the knee."""
    from thermogan.experiment.tracking import read_track
    from thermogan.metrics.oscillation import oscillation

    track = read_track(job.run_dir)
    steps, curve = [r["step"] for r in track], [r["fd_mnist"] for r in track]
    osc = oscillation(np.array(steps), np.array(curve), p.cutoff, p.window)
    return {"wall_s": summary.get("train_seconds"),
            "final_fd_mnist": summary["metrics"].get("fd_mnist"),
            "sha256": summary["protocol"].get("classifier_sha256"), "steps": steps,
            "fd_mnist": curve, "knee_step": osc.knee_step, "window": list(osc.window),
            "amplitude": osc.amplitude, "level": osc.level, "filtered": osc.filtered.tolist()}


def header(p: Protocol, label: str, results: list[dict[str, Any]], ran: str) -> str:
    return (f"fd_mnist oscillation against annealing levels ({label}): {p.config.name}, "
            f"{p.steps} steps, fd_mnist of {p.samples} samples every {p.every} steps, "
            f"low-pass cutoff {p.cutoff} per evaluation, window "
            f"{'to the end' if p.window is None else f'{p.window} steps'} after the knee; "
            f"{p.seeds} seed(s); {ran}. Classifier {results[0]['sha256']}.")


def figures(results: list[dict[str, Any]], out: Path, p: Protocol | None = None) -> list[Path]:
    """``oscillation.png``: left, the curves (raw pale, filtered bold, knee dashed) of seed 0;
    right, amplitude against K."""
    from matplotlib.figure import Figure

    from thermogan.report.figures import save_figure

    fig = Figure(figsize=(12, 4.4), layout="constrained")
    left, right = fig.subplots(1, 2, width_ratios=[2, 1])
    for i, r in enumerate(sorted((r for r in results if r["seed"] == 0),
                                 key=lambda r: r["levels"])):
        color = f"C{i % 10}"
        left.plot(r["steps"], r["fd_mnist"], color=color, lw=0.8, alpha=0.3)
        left.plot(r["steps"], r["filtered"], color=color, lw=1.8, label=f"K = {r['levels']}")
        left.axvline(r["knee_step"], color=color, ls="--", lw=0.9)
    left.set(xlabel="training step", ylabel="fd_mnist (tracked samples)", yscale="log",
             title="fd_mnist over training (seed 0); dashed: knee")
    left.legend(fontsize=8)
    ks = sorted({r["levels"] for r in results})
    amps = [[r["amplitude"] for r in results if r["levels"] == k] for k in ks]
    stats = [mean_se(a) for a in amps]
    right.errorbar(ks, [m for m, _ in stats], yerr=[0 if math.isnan(se) else se for _, se in stats],
                   marker="o", capsize=3)
    for k, a in zip(ks, amps):
        right.scatter([k] * len(a), a, s=10, color="gray", alpha=0.6)
    right.set(xlabel="annealing levels K", ylabel="mean max-to-min amplitude after the knee",
              xscale="log", title="amplitude (mean ± s.e. over seeds)")
    right.set_xticks(ks, [str(k) for k in ks])
    right.minorticks_off()
    for ax in (left, right):
        ax.grid(alpha=0.3)
    return [save_figure(fig, out / "oscillation.png")]


BENCH = Bench(
    "oscillation", "fd_mnist oscillation against annealing levels K (the nonstationary-GAN "
    "paper's Fig. 5)", Protocol(), QUICK, plan, header,
    (Column("knee_step", "knee (step)", ".0f"), Column("level", "fd_mnist after the knee", ".1f"),
     Column("amplitude", "amplitude (mean max-to-min)", ".2f"),
     Column("final_fd_mnist", "final fd_mnist (10,000)", ".1f")),
    result, baseline=("levels", 2), paired=True, figures=figures, titles={"levels": "K"})
