"""The mode-collapse benchmark: every stabiliser on the PacGAN mixtures, across seeds.

For each data set (ring of 8, grid of 25) and each method, N seeds are trained with identical
networks, budget and seeds (the method's config differs only in what the method changes), and
scored with the PacGAN protocol (2,500 samples, high quality within 3 std). The results are the
mean ± standard error over seeds of modes, high-quality % and reverse KL, and the training time
per run (a seed ensemble's time shared equally by its members, so it has no spread over seeds).

Methods are config files plus overrides, read from ``configs/``: ``{data}_vanilla.yaml`` and
``{data}_betagan.yaml`` (same networks, z, EMA and budget). β-GAN follows the paper (β from 0.1
to 10 over 20 levels); "cold end from data" ends the cooling at noise of twice the data's std
instead (``tempering.cold_std=2``), which docs/betagan.md studies. "lens (TAN)" is the
vanilla twin with a vector lens (residual MLP, 64 units, 2 blocks, Adam 1e-3, λ(t) decaying to 0
over the default 10,000 steps). "Langevin D" is ``{data}_langevin.yaml``: the vanilla twin with
an SGLD D, the paper's covariance-controlled noise or, "(ccadl)", its source's (docs/langevin.md);
"SGD D (control)" is the same D optimizer without noise, which separates the noise's effect from
the change from Adam to plain gradient steps.
The adaptive rows (issue [11]) set the level from what D does instead of a clock
(``tempering/control.Adaptive``, StyleGAN2-ADA's rule: target E[sign D(real)] = 0.6, every 4 D
steps, u crosses [0, 1] in 500k real images), starting hot (u = 1) as β-GAN does: instance
noise's σ between 0 and its start 0.5, and β-GAN's log β between the data-derived cold end
(``cold_std=2``) and β_1 = 0.1. Started cold, the rule never heats these toy runs: their D is
rarely as sure as the target (E[sign D(real)] ≈ 0.5 after the first few hundred steps).
The WGAN-GP rows: the vanilla twin with WGAN-GP (critic Adam 1e-4, β (0.5, 0.9), as Gulrajani et
al.), and the same with an SGD critic (the control: no noise), or a Langevin critic at lr 0.01.
The full run (10 seeds, 12,000 steps per run, 280 runs) took about 2 hours on 2 cores run by
run. The seeds of each method now train as one seed ensemble (``train/ensemble.py``), each seed's
run equal to its single run up to rounding; a group with a run already begun trains run by run
(its finished runs are reused).
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from thermogan.bench import origin
from thermogan.bench.pool import Executor
from thermogan.errors import UsageError
from thermogan.jsonio import write_json
from thermogan.metrics.summary import mean_se, plus_minus

DATASETS = ("ring8", "grid25")

CCADL = ["optim.d.noise=ccadl", "optim.d.temperature=1.0e-4", "optim.d.batch_size=256"]
WGAN_GP = "objective.loss=wgan-gp"
CRITIC_LR = ["optim.d.lr=0.01"]  # an SGLD critic's rate (0.1 is the sigmoid D's)
NO_NOISE = ["optim.d.noise=isotropic", "optim.d.temperature=0"]  # SGLD at T = 0: plain SGD

#: method -> (config file pattern, overrides)
METHODS: dict[str, tuple[str, list[str]]] = {
    "vanilla (saturating)": ("{data}_vanilla.yaml", []),
    "vanilla (non-saturating)": ("{data}_vanilla.yaml", ["objective.loss=nonsaturating"]),
    "instance noise": ("{data}_vanilla.yaml", ["tempering={kind: instance_noise}"]),
    "β-GAN": ("{data}_betagan.yaml", []),
    "β'-GAN (coupled)": ("{data}_betagan.yaml", ["tempering.coupled=true"]),
    "β-GAN (cold end from data)": ("{data}_betagan.yaml", ["tempering.cold_std=2"]),
    "instance noise (adaptive)": ("{data}_vanilla.yaml",
                                  ["tempering={kind: instance_noise, std: {kind: adaptive, "
                                   "start: 1}}"]),
    "β-GAN (adaptive)": ("{data}_betagan.yaml",
                         ["tempering.cold_std=2", "tempering.beta={kind: adaptive, start: 1}"]),
    "lens (TAN)": ("{data}_vanilla.yaml",
                   ["tempering={kind: lens, width: 64, blocks: 2, lr: 1.0e-3}"]),
    "SGD D (control)": ("{data}_langevin.yaml", NO_NOISE),
    "Langevin D (paper)": ("{data}_langevin.yaml", []),
    "Langevin D (ccadl)": ("{data}_langevin.yaml", CCADL),
    "WGAN-GP": ("{data}_vanilla.yaml", [WGAN_GP, "optim.d={kind: adam, lr: 1.0e-4, "
                                                 "betas: [0.5, 0.9]}"]),
    "WGAN-GP SGD critic": ("{data}_langevin.yaml", [WGAN_GP, *CRITIC_LR, *NO_NOISE]),
    "WGAN-GP Langevin critic (paper)": ("{data}_langevin.yaml", [WGAN_GP, *CRITIC_LR]),
    "WGAN-GP Langevin critic (ccadl)": ("{data}_langevin.yaml", [WGAN_GP, *CRITIC_LR, *CCADL]),
}

QUICK = {"seeds": 3, "steps": 3000}
FULL_STEPS = 12000


@dataclass(frozen=True)
class Job:
    data: str
    method: str
    seed: int
    config: Path
    overrides: tuple[str, ...]
    run_dir: Path


def plan(configs: Path, out: Path, seeds: int, steps: int | None,
         methods: list[str] | None = None, datasets: tuple[str, ...] = DATASETS) -> list[Job]:
    """Every (data set, method, seed) run; configs must exist."""
    jobs = []
    for data in datasets:
        for method in methods or list(METHODS):
            if method not in METHODS:
                raise UsageError(f"--methods: unknown method {method!r}; valid: "
                                 f"{', '.join(METHODS)}")
            pattern, overrides = METHODS[method]
            path = configs / pattern.format(data=data)
            if not path.is_file():
                raise UsageError(f"benchmark config {path} does not exist (run from the "
                                     "repository root or pass --configs DIR)")
            budget = [f"train.steps={steps}"] if steps else []
            for seed in range(seeds):
                common = [f"seed={seed}", "device=cpu", "train.progress=false",
                          "train.tensorboard=false", "train.checkpoint_every=1000000000"]
                slug = "".join(c if c.isalnum() else "_" for c in method).strip("_")
                jobs.append(Job(data, method, seed, path, tuple(overrides + budget + common),
                                out / "runs" / data / slug / f"seed{seed}"))
    from thermogan.experiment import config, runs

    for job in jobs:  # a bad override, or a reused run of another config, fails here
        runs.check_reusable(config.load(job.config, list(job.overrides)), job.run_dir)
    return jobs


def run_job(job: Job) -> dict[str, Any]:
    """Train and score one run (or reuse it: ``runs.train_or_reuse``); returns its metrics,
    training time and samples."""
    from thermogan.experiment import config, runs

    cfg = config.load(job.config, list(job.overrides))
    return _result(job, runs.train_or_reuse(cfg, job.run_dir))


def run_ensemble(jobs: tuple[Job, ...]) -> list[dict[str, Any]]:
    """The seeds of one (data set, method), none begun, trained as one seed ensemble
    (``experiment/seeds.py``) into the run directories the run-by-run jobs would use; each
    run's ``train_seconds`` is its share of the ensemble's time."""
    from thermogan.experiment import config, seeds

    first = jobs[0]
    cfg = config.load(first.config, list(first.overrides))
    done = seeds.start(cfg, first.run_dir.parent, [job.seed for job in jobs],
                       announce=lambda _: None)
    return [_result(job, summary) for job, (_, summary) in zip(jobs, done)]


def _result(job: Job, summary: dict[str, Any]) -> dict[str, Any]:
    from thermogan.experiment import config, runs, scoring

    cfg = config.load(job.config, list(job.overrides))
    _, trainer = runs.open_run(job.run_dir)
    wall = summary.get("train_seconds", math.nan)
    n = scoring.eval_samples(cfg)
    samples = trainer.sample(n, cfg.eval.seed).numpy()
    data_points = trainer.data.sample(n).x.numpy()
    return {"data": job.data, "method": job.method, "seed": job.seed, "wall_s": wall,
            **summary["metrics"], "protocol": summary["protocol"], "samples": samples,
            "data_points": data_points}


def ensemble_groups(jobs: list[Job]) -> tuple[list[tuple[Job, ...]], list[Job], dict[str, str]]:
    """The (data set, method) groups that train as seed ensembles, the jobs that train run by
    run, and for each group of several seeds among them why (``why_alone``), by "method on data"."""
    groups: dict[tuple[str, str], list[Job]] = {}
    for job in jobs:
        groups.setdefault((job.data, job.method), []).append(job)
    together, alone, reasons = [], [], {}
    for (data, method), group in groups.items():
        if len(group) == 1:
            alone += group
        elif (reason := why_alone(group)) is not None:
            alone += group
            reasons[f"{method} on {data}"] = reason
        else:
            together.append(tuple(group))
    return together, alone, reasons


def why_alone(group: list[Job]) -> str | None:
    """Why the seeds of one (data set, method) do not train as one ensemble: a run of theirs
    has begun (finished runs are reused, the others resume), or the config's parts are not
    supported (``ensemble.unsupported``); None when they do."""
    from thermogan.experiment import build, config, runs
    from thermogan.train.ensemble import unsupported

    if any(runs.latest_checkpoint(job.run_dir).exists() for job in group):
        return "some of its runs have begun (finished ones are reused, the others resume)"
    return unsupported(build.build_trainer(config.load(group[0].config,
                                                       list(group[0].overrides))))


def _run_unit(unit: Job | tuple[Job, ...]) -> list[dict[str, Any]]:
    return run_ensemble(unit) if isinstance(unit, tuple) else [run_job(unit)]


def run_all(jobs: list[Job], executor: Executor = Executor()) -> list[dict[str, Any]]:
    """Run the jobs on the executor's processes or Ray tasks of one thread each, with a progress
    bar: the seeds of a method that ensembles support as one job, the others one job per run."""
    together, alone, reasons = ensemble_groups(jobs)
    for group, reason in reasons.items():
        print(f"bench modes: {group} trains run by run: {reason}")
    units: list[Job | tuple[Job, ...]] = [*together, *alone]
    results = [r for batch in executor.map(_run_unit, units, "bench modes") for r in batch]
    return sorted(results, key=lambda r: (DATASETS.index(r["data"]) if r["data"] in DATASETS
                                          else 0, list(METHODS).index(r["method"]), r["seed"]))


def aggregate(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Mean ± standard error per (data set, method)."""
    rows = []
    groups: dict[tuple[str, str], list[dict[str, Any]]] = {}
    for r in results:
        groups.setdefault((r["data"], r["method"]), []).append(r)
    for (data, method), rs in groups.items():
        row: dict[str, Any] = {"data": data, "method": method, "seeds": len(rs)}
        for key in ("modes", "high_quality", "reverse_kl", "wall_s"):
            row[key], row[f"{key}_se"] = mean_se([float(r[key]) for r in rs])
        row["components"] = rs[0]["protocol"]["components"]
        rows.append(row)
    return rows


def markdown(rows: list[dict[str, Any]], header: str) -> str:
    lines = [header, "",
             "| data | method | seeds | modes | high quality % | reverse KL | training s per run |",
             "|---|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(
            f"| {r['data']} | {r['method']} | {r['seeds']} | "
            f"{plus_minus(r['modes'], r['modes_se'], '.2f')} / {r['components']} | "
            f"{plus_minus(100 * r['high_quality'], 100 * r['high_quality_se'], '.1f')} | "
            f"{plus_minus(r['reverse_kl'], r['reverse_kl_se'], '.3f')} | "
            f"{r['wall_s']:.1f} |")  # an ensemble's members share its time: no spread
    return "\n".join(lines) + "\n"


def figure(results: list[dict[str, Any]], path: Path, seed: int = 0) -> Path:
    """One panel per (data set, method) for ``seed``: data (blue) against samples (red)."""
    from matplotlib.figure import Figure

    from thermogan.report.figures import DATA_COLOR, SAMPLE_COLOR

    shown = [r for r in results if r["seed"] == seed]
    datasets = list(dict.fromkeys(r["data"] for r in shown))
    methods = list(dict.fromkeys(r["method"] for r in shown))
    fig = Figure(figsize=(3.0 * len(methods), 3.2 * len(datasets)), layout="constrained")
    axes = fig.subplots(len(datasets), len(methods), squeeze=False)
    for r in shown:
        ax = axes[datasets.index(r["data"])][methods.index(r["method"])]
        ax.scatter(*r["data_points"].T[:2], s=1, c=DATA_COLOR, alpha=0.4, linewidths=0)
        ax.scatter(*r["samples"].T[:2], s=1, c=SAMPLE_COLOR, alpha=0.4, linewidths=0)
        ax.set_title(f"{r['data']}: {r['method']}\n{r['modes']} modes, "
                     f"{100 * r['high_quality']:.0f}% HQ, KL {r['reverse_kl']:.2f}", fontsize=8)
        ax.set_aspect("equal", adjustable="datalim")
        ax.tick_params(labelsize=6)
    fig.savefig(path, dpi=110)
    return path


def bench_modes(out: Path, seeds: int | None = None, quick: bool = False,
                configs: Path = Path("configs"), steps: int | None = None,
                executor: Executor = Executor(),
                methods: list[str] | None = None, datasets: tuple[str, ...] = DATASETS) -> str:
    """Run the benchmark, write results.json, results.md and modes.png; returns the table."""
    seeds = seeds or (QUICK["seeds"] if quick else 10)
    steps = steps or (QUICK["steps"] if quick else FULL_STEPS)
    out.mkdir(parents=True, exist_ok=True)
    jobs = plan(configs, out, seeds, steps, methods, datasets)
    started = time.perf_counter()
    results = run_all(jobs, executor)
    rows = aggregate(results)
    trained = origin.trained_by(job.run_dir for job in jobs)
    header = (f"Mode-collapse benchmark ({'quick' if quick else 'full'}): {seeds} seeds, "
              f"{steps} steps per run, PacGAN protocol (2,500 samples, 3 std); training time "
              "per run on one thread, a seed ensemble's time shared by its members; "
              f"{executor.describe()}, {time.perf_counter() - started:.0f} s in all."
              + origin.note(trained))
    table = markdown(rows, header)
    (out / "results.md").write_text(table)
    per_run = [{k: v for k, v in r.items() if k not in ("samples", "data_points")}
               for r in results]
    write_json({"protocol": {"trained_by": trained,
                             "seeds": seeds, "steps": steps, "samples": 2500,
                             "threshold_std": 3.0, "quick": quick,
                             "methods": {m: METHODS[m] for m in (methods or list(METHODS))}},
                "summary": rows, "runs": per_run}, out / "results.json")
    figure(results, out / "modes.png")
    return table
