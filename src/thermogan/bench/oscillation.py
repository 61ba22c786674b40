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
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
from matplotlib.figure import Figure

from thermogan.bench import origin
from thermogan.bench.pool import Executor
from thermogan.errors import UsageError
from thermogan.jsonio import write_json
from thermogan.metrics.oscillation import oscillation
from thermogan.metrics.summary import mean_se, plus_minus
from thermogan.report.figures import save_figure


@dataclass(frozen=True)
class Protocol:
    levels: tuple[int, ...] = (2, 5, 10, 20)
    seeds: int = 2
    steps: int = 8000
    every: int = 100  # steps between fd_mnist evaluations
    samples: int = 1000  # generated samples per evaluation
    cutoff: float = 0.1  # low-pass cutoff, cycles per evaluation
    window: int | None = None  # steps after the knee; None: to the end of the run


QUICK = Protocol(levels=(2, 10), seeds=1, steps=2000, every=50)


@dataclass(frozen=True)
class Job:
    levels: int
    seed: int
    config: Path
    overrides: tuple[str, ...]
    run_dir: Path


def plan(config: Path, out: Path, p: Protocol) -> list[Job]:
    if not config.is_file():
        raise UsageError(f"--config {config} does not exist")
    if p.steps < 10 * p.every:
        raise UsageError(f"--steps {p.steps} with --every {p.every} gives fewer than 10 "
                             "evaluations; the curve cannot be filtered")
    from thermogan.experiment import config as config_mod
    from thermogan.experiment import runs

    jobs = [Job(k, seed, config, (f"tempering.levels={k}", f"seed={seed}",
                                  f"train.steps={p.steps}", f"eval.track_every={p.every}",
                                  f"eval.track_samples={p.samples}", "train.progress=false",
                                  "train.tensorboard=false", f"name=K{k}_seed{seed}"),
                out / "runs" / f"K{k}_seed{seed}")
            for k in p.levels for seed in range(p.seeds)]
    for job in jobs:  # a bad config, or a reused run of another config, fails here
        runs.check_reusable(config_mod.load(job.config, list(job.overrides)), job.run_dir)
    return jobs


def run_job(job: Job) -> dict[str, Any]:
    """Train one run (or reuse it: ``runs.train_or_reuse``) and return its tracked curve."""
    from thermogan.experiment import config, runs
    from thermogan.experiment.tracking import read_track

    summary = runs.train_or_reuse(config.load(job.config, list(job.overrides)), job.run_dir)
    track = read_track(job.run_dir)
    return {"levels": job.levels, "seed": job.seed, "wall_s": summary.get("train_seconds"),
            "final_fd_mnist": summary["metrics"].get("fd_mnist"),
            "sha256": summary["protocol"].get("classifier_sha256"),
            "steps": [r["step"] for r in track], "fd_mnist": [r["fd_mnist"] for r in track]}


def measure(results: list[dict[str, Any]], p: Protocol) -> list[dict[str, Any]]:
    """The knee, level and amplitude of each run's curve."""
    for r in results:
        osc = oscillation(np.array(r["steps"]), np.array(r["fd_mnist"]), p.cutoff, p.window)
        r.update(knee_step=osc.knee_step, window=list(osc.window), amplitude=osc.amplitude,
                 level=osc.level, filtered=osc.filtered.tolist())
    return results


def table(results: list[dict[str, Any]], header: str) -> str:
    lines = [header, "", "| K | seeds | knee (step) | fd_mnist after the knee | amplitude "
             "(mean max-to-min) | final fd_mnist (10,000) | wall time (s) |",
             "|---|---|---|---|---|---|---|"]
    for k in sorted({r["levels"] for r in results}):
        rows = [r for r in results if r["levels"] == k]
        cols = [plus_minus(*mean_se([r[key] for r in rows]), fmt) for key, fmt in (
            ("knee_step", ".0f"), ("level", ".1f"), ("amplitude", ".2f"),
            ("final_fd_mnist", ".1f"), ("wall_s", ".0f"))]
        lines.append(f"| {k} | {len(rows)} | " + " | ".join(cols) + " |")
    return "\n".join(lines) + "\n"


def figure(results: list[dict[str, Any]], path: Path) -> Path:
    """Left: the curves (raw pale, filtered bold, knee dashed) of seed 0; right: amplitude vs K."""
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
    return save_figure(fig, path)


def bench_oscillation(out: Path, p: Protocol, config: Path,
                      executor: Executor = Executor(),
                      label: str = "reduced") -> str:
    """Run, measure, and write results.json, results.md and oscillation.png; returns the table."""
    out.mkdir(parents=True, exist_ok=True)
    jobs = plan(config, out, p)
    started = time.perf_counter()
    results = measure(sorted(executor.map(run_job, jobs, "bench oscillation"),
                             key=lambda r: (r["levels"], r["seed"])), p)
    trained = origin.trained_by(job.run_dir for job in jobs)
    header = (f"fd_mnist oscillation against annealing levels ({label}): {config.name}, "
              f"{p.steps} steps, fd_mnist of {p.samples} samples every {p.every} steps, "
              f"low-pass cutoff {p.cutoff} per evaluation, window "
              f"{'to the end' if p.window is None else f'{p.window} steps'} after the knee; "
              f"{p.seeds} seed(s), {time.perf_counter() - started:.0f} s in all. Classifier "
              f"{results[0]['sha256']}." + origin.note(trained))
    text = table(results, header)
    (out / "results.md").write_text(text)
    write_json({"protocol": {"trained_by": trained,
                             **p.__dict__, "config": config, "label": label}, "runs": results},
               out / "results.json")
    figure(results, out / "oscillation.png")
    return text
