"""Learning from an unnormalised density, annealed against β = 1 (Tao et al. 2019, "Variational
Annealing of GANs: A Langevin Perspective", Fig. 6), on the four energies of Rezende & Mohamed
(2015), "Variational Inference with Normalizing Flows".

The twins ``configs/density.yaml`` (β annealed from 0.01 to 1) and ``configs/density_fixed.yaml``
(β = 1 throughout) differ only in ``regulariser`` (and ``name``); each (energy, seed) trains both
from the same initial G and D (weights are drawn from the seed before the G terms exist, and
every random stream is named by its consumer, ``train/rng.py``). With ``--steps``, the annealing
schedule keeps its proportions: its step counts are scaled by steps / the config's steps.

Scores (``experiment/density_scorer.py``): KL(target‖model) and KL(model‖target) between the
target normalised on a 50² grid over [−4, 4]² and the histogram of 50,000 samples, the mass per
lobe or branch against the target's, and the fraction of samples outside the window; mean ± SE
over seeds. A run misses a region when the region holds less than a quarter of its target mass.
``density.png``: per energy (rows), the target, the initial G's samples, and seed 0 with and
without annealing.

Protocols: full: 5 seeds of the configs' 3,000 steps (40 runs, about 15 s each on one thread);
quick: 2 seeds of 1,000 steps.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from thermogan.bench.engine import WALL, Bench, Column, Job, known, scored, twins
from thermogan.experiment.config import SHIPPED
from thermogan.metrics.summary import mean_se, plus_minus

ENERGIES = ("u1", "u2", "u3", "u4")
#: method -> its config file
METHODS: dict[str, str] = {"annealed": "density.yaml", "β = 1": "density_fixed.yaml"}
TWIN_KEYS = ("name", "regulariser")  # the keys in which the twins may differ
SCALED = ("steps", "total_steps", "half_period")  # schedule fields counted in steps
MISSED = 0.25  # a region is missed below this fraction of its target mass
SHOWN = 3000  # samples kept per run of seed 0 for the figure


@dataclass(frozen=True)
class Protocol:
    seeds: int = field(default=5, metadata={"help": "seeds per energy and method"})
    steps: int | None = field(default=None, metadata={
        "help": "steps per run (the annealing keeps its proportions)"})
    energies: tuple[str, ...] = field(default=ENERGIES, metadata={
        "help": f"comma-separated subset of: {', '.join(ENERGIES)}"})
    configs: Path = SHIPPED


QUICK = Protocol(seeds=2, steps=1000)


def rescaled(spec: Any, factor: float) -> Any:
    """A schedule spec (or a list of G terms) with every count of steps times ``factor``."""
    if isinstance(spec, list):
        return [rescaled(item, factor) for item in spec]
    if not isinstance(spec, dict):
        return spec
    return {k: max(1, round(v * factor)) if k in SCALED and isinstance(v, int)
            else rescaled(v, factor) for k, v in spec.items()}


def plan(p: Protocol, out: Path) -> list[Job]:
    """Every (energy, seed, method) run, seed by seed (an interrupted bench has whole
    comparisons)."""
    from thermogan.experiment import config

    known("--energies", "energy", p.energies, ENERGIES)
    paths = {method: p.configs / name for method, name in METHODS.items()}
    twins(*paths.values(), TWIN_KEYS, "density.yaml and density_fixed.yaml")
    jobs = []
    for energy in (e for e in ENERGIES if e in p.energies):
        for seed in range(p.seeds):
            for method, path in paths.items():
                cfg = config.load(path)
                overrides = [f"data.energy={energy}", f"seed={seed}",
                             f"name={cfg.name}_{energy}_seed{seed}", "device=cpu",
                             "train.progress=false", "train.tensorboard=false"]
                if p.steps is not None:
                    terms = rescaled(cfg.to_dict()["regulariser"], p.steps / cfg.train.steps)
                    overrides += [f"train.steps={p.steps}", f"train.checkpoint_every={p.steps}",
                                  f"regulariser={json.dumps(terms)}"]
                jobs.append(Job((("energy", energy), ("method", method)), seed, path,
                                tuple(overrides), out / "runs" / energy / cfg.name / f"seed{seed}"))
    return jobs


def result(job: Job, summary: dict[str, Any], p: Protocol) -> dict[str, Any]:
    """A run's scores, and for seed 0 its samples and those of its initial G (the figure)."""
    from thermogan.experiment import config, runs
    from thermogan.experiment.build import build_trainer

    out = {**scored(job, summary), "run_dir": str(job.run_dir)}
    if job.seed == 0:
        cfg = config.load(job.config, list(job.overrides))
        _, trainer = runs.open_run(job.run_dir)
        out["samples"] = trainer.sample(SHOWN, cfg.eval.seed, cfg.eval.use_ema).numpy()
        initial = build_trainer(cfg)  # the same weights as the run's at step 0
        out["initial"] = initial.sample(SHOWN, cfg.eval.seed, use_ema=False).numpy()
    return out


def missed(mass: list[float], target: list[float]) -> int:
    """The regions holding less than MISSED of their target mass."""
    return sum(m < MISSED * t for m, t in zip(mass, target))


def regions(rows: list[dict[str, Any]], results: list[dict[str, Any]]) -> None:
    """Add to each row its energy's regions, target masses and exact sampler's floor, how many
    runs missed a region, and each region's mass (mean ± SE over seeds)."""
    for row in rows:
        rs = [r for r in results if (r["energy"], r["method"]) == (row["energy"], row["method"])]
        p = rs[0]["protocol"]
        row.update({key: p[key] for key in ("regions", "target_region_mass",
                                             "floor_kl_target_model", "floor_kl_model_target")})
        row["missed"] = sum(missed(r["region_mass"], p["target_region_mass"]) > 0 for r in rs)
        masses = [mean_se([float(r["region_mass"][k]) for r in rs])
                  for k in range(len(p["regions"]))]
        row["region_mass"], row["region_mass_se"] = [m for m, _ in masses], [s for _, s in masses]


def _masses(row: dict[str, Any]) -> str:
    if len(row["regions"]) == 1:
        return "—"
    target = " / ".join(f"{t:.2f}" for t in row["target_region_mass"])
    return " / ".join(plus_minus(m, s, ".2f") for m, s in zip(
        row["region_mass"], row["region_mass_se"])) + f" ({target})"


def floors(rows: list[dict[str, Any]], results: list[dict[str, Any]]) -> list[str]:
    """The table's rows of the exact sampler's floor, one per energy."""
    lines = []
    for energy in dict.fromkeys(r["energy"] for r in results):
        p = next(r["protocol"] for r in results if r["energy"] == energy)
        target = " / ".join(f"{t:.2f}" for t in p["target_region_mass"])
        shown = f"{target} ({' / '.join(p['regions'])})" if len(p["regions"]) > 1 else "—"
        lines.append(f"| {energy} | exact sampler (floor) | – | {p['floor_kl_target_model']:.3f} "
                     f"| {p['floor_kl_model_target']:.3f} | {shown} | – | – | – |")
    return lines


def figures(results: list[dict[str, Any]], out: Path, p: Protocol | None = None) -> list[Path]:
    """``density.png``: per energy, the target, the initial G, annealed and β = 1 (seed 0)."""
    from matplotlib.figure import Figure

    from thermogan.data.energy import energy as energy_data
    from thermogan.report.density import draw_target
    from thermogan.report.figures import save_figure

    shown = {(r["energy"], r["method"]): r for r in results if r["seed"] == 0}
    energies = [e for e in ENERGIES if any(k[0] == e for k in shown)]
    if not energies:
        return []
    fig = Figure(figsize=(3.0 * (2 + len(METHODS)), 3.2 * len(energies)), layout="constrained")
    axes = fig.subplots(len(energies), 2 + len(METHODS), squeeze=False)
    for row, energy in zip(axes, energies):
        runs = [shown.get((energy, m)) for m in METHODS]
        first = next(r for r in runs if r is not None)
        p = first["protocol"]
        data, half = energy_data(energy, p["reference_std"], p["window"][1]), p["window"][1]
        draw_target(row[0], data, half)
        row[0].set_title(f"{energy}: target exp(−U)", fontsize=9)
        draw_target(row[1], data, half, first["initial"], color="tab:blue")
        row[1].set_title(f"{energy}: initial G (seed 0)", fontsize=9)
        for ax, method, r in zip(row[2:], METHODS, runs):
            if r is None:
                ax.set_visible(False)
                continue
            draw_target(ax, data, half, r["samples"])
            mass = "/".join(f"{m:.2f}" for m in r["region_mass"])
            ax.set_title(f"{energy}: {method}\nKL(t‖m) {r['kl_target_model']:.2f}, KL(m‖t) "
                         f"{r['kl_model_target']:.2f}" + (f", mass {mass}" if len(
                             r["region_mass"]) > 1 else ""), fontsize=8)
    fig.suptitle("Learning from an unnormalised density, seed 0 (the variational-annealing "
                 "slides' Fig. 6)", fontsize=10)
    return [save_figure(fig, out / "density.png", dpi=100)]


def header(p: Protocol, label: str, results: list[dict[str, Any]], ran: str) -> str:
    first = results[0]["protocol"]
    lo, hi = first["window"]
    return (f"Learning from an unnormalised density ({label}): {p.seeds} seed(s) per energy and "
            f"method, the same initial G and D for both methods of a seed; {first['step']} "
            f"steps; {first['samples']} samples scored on a {first['cells']}² grid over "
            f"[{lo:g}, {hi:g}]² (histogram smoothing {first['smoothing']:g} per cell); a run "
            f"misses a region below {MISSED:g} of its target mass; wall time: training of one "
            f"run on one thread; {ran}. Mean ± SE over seeds.")


BENCH = Bench(
    "density", "learning from an unnormalised density: β annealed against β = 1 on the "
    "energies U1-U4 (variational annealing's Fig. 6)", Protocol(), QUICK, plan, header,
    (Column("kl_target_model", "KL(target‖model)"), Column("kl_model_target", "KL(model‖target)"),
     Column("region_mass", "region masses (target)", cell=_masses),
     Column("missed", "runs missing a region", cell=lambda r: f"{r['missed']}/{r['seeds']}"),
     Column("outside", "outside %", ".1f", scale=100)),
    result, baseline=("method", "β = 1"), paired=True, figures=figures, extend=regions,
    more=floors, transient=("samples", "initial"),
    record=lambda p: {**asdict(p), "methods": METHODS, "missed_below": MISSED},
    label=lambda p, quick: "quick" if quick else "full", wall=replace(WALL, fmt=".1f"))
