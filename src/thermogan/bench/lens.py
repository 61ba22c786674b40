"""With and without the lens (Sajjadi et al. 2018, *Tempered Adversarial Networks*): DCGAN on MNIST
and Stacked MNIST, for each GAN variant, over seeds, from the same initial G and D.

The runs of each seed come from one config (``configs/tan_<data>_<variant>_cpu.yaml``, or the
paper scale without ``_cpu``), in three arms (``ARMS``):
- lens: the config as is, λ(t) a sine decay to 0 over K steps;
- adaptive: the same lens with λ set by the ADA-style controller (``tempering.control.Adaptive``:
  its heat u, starting at 1, is λ, moved by how sure D is of the real data, at a pace that can
  cross [0, 1] in K steps) until K, and 0 from K on, as the lens arm's λ;
- none: ``tempering=null``.
All build G and D from the same seed before the lens exists, so they start from identical
weights. Every run logs ``fd_mnist`` of a fixed set of latents every M steps, takes snapshots of
G(z) and L(x), and ends with the protocol's evaluation (10,000 samples for MNIST; 26,000 for
Stacked MNIST, which adds its modes and KL).

Protocols, each with the three arms (``--arms lens,none``: the pair alone). The times below were
measured for the pair; the adaptive arm is one more lens run, which costs about 4 times a run
without the lens, so the three arms take about 1.8 times as long:
- reduced (CPU, the default): the original GAN loss on MNIST and Stacked MNIST, 3 seeds, the
  ``_cpu`` configs (DCGAN C = 16, an 8-channel lens with a per-pixel reconstruction term,
  2,000 steps, λ → 0 over 500); about 35 minutes on 2 cores. ``--variants gan,lsgan,wgangp``
  adds the other losses (WGAN-GP's 5 critic steps make it about 2.5 times the cost of the
  others).
- quick: MNIST and Stacked MNIST, 1 seed, 300 steps, λ → 0 over 75; about 3 minutes.
- paper (GPU): ``--scale paper --device cuda --workers 1`` (C = 64, a 16-channel lens, 100,000
  steps, K = 10,000).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from thermogan.bench.engine import Bench, Column, Job, scaled_config
from thermogan.errors import ThermoganError, UsageError
from thermogan.experiment.config import SHIPPED

if TYPE_CHECKING:
    from thermogan.experiment.config import Component

DATA = ("mnist", "stacked")
VARIANTS = ("gan", "lsgan", "wgangp")
VARIANT_NAMES = {"gan": "GAN", "lsgan": "LSGAN", "wgangp": "WGAN-GP"}
DATA_NAMES = {"mnist": "MNIST", "stacked": "Stacked MNIST"}
ARMS = ("lens", "adaptive", "none")  # planned in this order: the lens runs are the longest
ARM_NAMES = {"none": "none", "lens": "lens", "adaptive": "lens, adaptive λ"}
RUN_TAGS = {"lens": "lens", "adaptive": "adaptive", "none": "nolens"}  # run names: ..._<tag>_seedN
SHOWN = ("none", "lens", "adaptive")  # the order of the table's rows and the curves


@dataclass(frozen=True)
class Protocol:
    data: tuple[str, ...] = field(default=DATA, metadata={
        "help": "comma-separated: mnist, stacked"})
    variants: tuple[str, ...] = field(default=("gan",), metadata={
        "help": "comma-separated: gan, lsgan, wgangp"})
    arms: tuple[str, ...] = field(default=ARMS, metadata={
        "help": "comma-separated: lens (λ a sine decay to 0 at K), adaptive (λ set by the "
        "ADA-style controller until K, then 0), none"})
    seeds: int = field(default=3, metadata={"help": "seeds per run"})
    steps: int | None = field(default=None, metadata={"help": "steps per run"})
    horizon: int | None = field(default=None, metadata={
        "help": "K, the steps over which λ (adaptive: its ceiling) decays to 0"})
    every: int | None = field(default=None, metadata={
        "help": "steps between fd_mnist evaluations"})
    samples: int | None = field(default=None, metadata={"help": "samples per tracked fd_mnist"})
    eval_samples: int | None = field(default=None, metadata={"cli": False})  # None: 10k / 26k
    scale: str = field(default="cpu", metadata={
        "help": "which configs: the *_cpu.yaml ones, or the paper's", "choices": ("cpu", "paper")})
    settings: tuple[str, ...] = field(default=(), metadata={
        "flag": "--set", "append": True, "metavar": "KEY=VALUE", "help": "config override for "
        "every run (tempering.* ones for the lens and adaptive runs only), e.g. --set "
        "tempering.recon=mean; repeatable"})
    configs: Path = SHIPPED
    device: str = field(default="cpu", metadata={"help": "cpu, cuda, ... (paper scale: cuda)"})


QUICK = Protocol(seeds=1, steps=300, horizon=75, every=50, samples=500, eval_samples=2000)


def _overrides(p: Protocol, seed: int, arm: str, name: str, weight: str | None) -> tuple[str, ...]:
    """The config overrides of one run; ``weight`` is the adaptive arm's λ."""
    lensed = arm != "none"
    out = [f"seed={seed}", f"name={name}", "train.progress=false", "train.tensorboard=false"]
    for key, value in (("train.steps", p.steps),
                       ("tempering.weight.horizon", p.horizon if arm == "lens" else None),
                       ("eval.track_every", p.every), ("eval.track_samples", p.samples),
                       ("eval.samples", p.eval_samples)):
        if value is not None and (lensed or not key.startswith("tempering")):
            out.append(f"{key}={value}")
    out += [s for s in p.settings if lensed or not s.startswith("tempering")]
    if arm == "none":
        out.append("tempering=null")
    if arm == "adaptive":
        out.append(f"tempering.weight={weight}")
    return tuple(out)


def _adaptive_weight(path: Path, p: Protocol) -> str:
    """The adaptive arm's λ (see the module docstring), K the protocol's horizon, else the
    config's own (with the protocol's settings applied); its pace, K·batch real images, rather
    than ADA's 500k, which a CPU-scale run of a few thousand steps would never move through."""
    from thermogan.experiment import config as config_mod

    cfg = config_mod.load(path, list(p.settings))
    horizon = p.horizon if p.horizon is not None else _horizon(cfg.temperings())
    if horizon is None:
        raise UsageError(f"config {path}: the lens's tempering.weight has no horizon K for the "
                         "adaptive arm's ceiling (use --horizon)")
    return (f"{{kind: adaptive, start: 1, images: {horizon * cfg.train.batch_size}, "
            f"ceiling: {{kind: hold, horizon: {horizon}}}}}")


def plan(p: Protocol, out: Path) -> list[Job]:
    """Every run of the protocol, lensed arms first (the longest); each config is checked here."""
    for name, given, valid in (("data", p.data, DATA), ("variants", p.variants, VARIANTS),
                               ("arms", p.arms, ARMS)):
        bad = [g for g in given if g not in valid]
        if bad or not given:
            raise UsageError(f"--{name} {','.join(given)}: expected some of {', '.join(valid)}")
    from thermogan.experiment import config as config_mod

    jobs = []
    for arm in (a for a in ARMS if a in p.arms):
        for data in p.data:
            for variant in p.variants:
                path = scaled_config(p.configs, f"tan_{data}_{variant}", p.scale)
                if not path.is_file():
                    raise UsageError(f"config {path} does not exist (--configs names the "
                                     "folder of the tan_*.yaml files)")
                weight = _adaptive_weight(path, p) if arm == "adaptive" else None
                for seed in range(p.seeds):
                    name = f"{data}_{variant}_{RUN_TAGS[arm]}_seed{seed}"
                    jobs.append(Job((("data", data), ("variant", variant), ("arm", arm)), seed,
                                    path, _overrides(p, seed, arm, name, weight),
                                    out / "runs" / name, p.device))
    for job in jobs:
        if config_mod.load(job.config, list(job.overrides)).eval.track_every is None:
            raise ThermoganError(f"config {job.config}: eval.track_every is not set, so there "
                                 "would be no fd_mnist curve (use --every)")
    return jobs


def result(job: Job, summary: dict[str, Any], p: Protocol | None = None) -> dict[str, Any]:
    """A run's metrics and tracked curve."""
    from thermogan.experiment import config
    from thermogan.experiment.tracking import read_track

    cfg = config.load(job.config, list(job.overrides))
    track = read_track(job.run_dir)
    metrics = summary["metrics"]
    return {"run_dir": str(job.run_dir), "wall_s": summary.get("train_seconds"),
            "fd_mnist": metrics.get("fd_mnist"), "kid_mnist": metrics.get("kid_mnist"),
            "stacked_modes": metrics.get("stacked_modes"),
            "stacked_kl": metrics.get("stacked_kl"), "protocol": summary["protocol"],
            "horizon": _horizon(cfg.temperings()),
            "steps": [r["step"] for r in track], "curve": [r["fd_mnist"] for r in track]}


def _horizon(temperings: list[Component]) -> int | None:
    """K of the lens's λ(t) (of its ceiling, for an adaptive λ) among a config's temperings
    (``temperings()``), for the curves' marker; None without a lens or a horizon."""
    lens = next((c for c in temperings if c.kind == "lens"), None)
    weight = lens.options().get("weight") if lens is not None else None
    if isinstance(weight, dict) and isinstance(weight.get("ceiling"), dict):
        weight = weight["ceiling"]
    return weight.get("horizon") if isinstance(weight, dict) else None


def _groups(results: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return sorted({(r["data"], r["variant"]) for r in results},
                  key=lambda g: (DATA.index(g[0]), VARIANTS.index(g[1])))


def curves(results: list[dict[str, Any]], path: Path) -> Path:
    """fd_mnist over training, one colour per arm (none blue, lens orange, adaptive λ green);
    thin: seeds, bold: mean; dashed, for each lensed arm: K, where λ (or its ceiling) reaches 0."""
    from matplotlib.figure import Figure

    from thermogan.report.curves import seed_curves
    from thermogan.report.figures import save_figure

    groups = _groups(results)
    fig = Figure(figsize=(5.2 * len(groups), 4.0), layout="constrained")
    for ax, group in zip(fig.subplots(1, len(groups), squeeze=False)[0], groups):
        data, variant = group
        for arm, color in zip(SHOWN, ("C0", "C1", "C2")):
            rows = [r for r in results if (r["data"], r["variant"], r["arm"]) == (*group, arm)]
            seed_curves(ax, [list(zip(r["steps"], r["curve"])) for r in rows], color,
                        f"tempering: {ARM_NAMES[arm]}", thin=0.7)
            horizon = next((r["horizon"] for r in rows if r.get("horizon")), None)
            if arm != "none" and horizon:
                ax.axvline(horizon, color=color, ls="--", lw=0.9,
                           label=f"{ARM_NAMES[arm]}: λ reaches 0 (K)")
        ax.set(xlabel="training step", ylabel="fd_mnist (tracked samples)", yscale="log",
               title=f"{DATA_NAMES[data]}, {VARIANT_NAMES[variant]}")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    return save_figure(fig, path)


def evolution(results: list[dict[str, Any]], out: Path) -> list[Path]:
    """Per (data, variant), seed 0: G(z) and L(x) of the lens run over training, G(z) of the run
    without a lens at the same steps (the paper's Fig. 1 and 4) and, where there is one, G(z) of
    the adaptive-λ run."""
    from thermogan.report.snapshots import load_shots, snapshot_rows

    paths = []
    for data, variant in _groups(results):
        arms = {r["arm"]: r for r in results
                if (r["data"], r["variant"], r["seed"]) == (data, variant, 0)}
        if not {"lens", "none"} <= set(arms):
            continue
        lensed = load_shots(arms["lens"]["run_dir"])
        if not lensed or lensed[0]["real"].ndim != 4:
            continue
        rows = [("with lens: G(z)", lensed, "fake"), ("with lens: L(x)", lensed, "real"),
                ("without lens: G(z)", load_shots(arms["none"]["run_dir"]), "fake")]
        if "adaptive" in arms:
            rows.append(("adaptive λ: G(z)", load_shots(arms["adaptive"]["run_dir"]), "fake"))
        paths.append(snapshot_rows(
            rows, out / f"evolution_{data}_{variant}.png",
            f"{DATA_NAMES[data]}, {VARIANT_NAMES[variant]}, seed 0: samples and lensed data "
            "over training"))
    return paths


def header(p: Protocol, label: str, results: list[dict[str, Any]], ran: str) -> str:
    first = results[0]
    return (f"With and without the lens ({label}, {p.scale} configs): "
            f"{', '.join(VARIANT_NAMES[v] for v in p.variants)} on "
            f"{', '.join(DATA_NAMES[d] for d in p.data)}; tempering: "
            f"{'; '.join(ARM_NAMES[a] for a in SHOWN if a in p.arms)}; {p.seeds} seed(s), the "
            f"same initial G and D in every arm; {first['protocol']['step']} steps; final "
            f"metrics of the protocol's samples against the test set; "
            f"{sum(r['wall_s'] or 0 for r in results) / 60:.0f} min of training summed over "
            f"the runs (one thread each); {ran}. "
            f"Classifier {first['protocol'].get('classifier_sha256')}.")


def figures(results: list[dict[str, Any]], out: Path, p: Protocol) -> list[Path]:
    return [curves(results, out / "curves.png"), *evolution(results, out)]


BENCH = Bench(
    "lens", "DCGAN with the lens, with the lens under an adaptive λ and without it, on MNIST and "
    "Stacked MNIST (Tempered Adversarial Networks)", Protocol(), QUICK, plan, header,
    (Column("fd_mnist", "final fd_mnist", ".1f"),
     Column("stacked_modes", "Stacked modes (of 1000)", ".1f", optional=True),
     Column("stacked_kl", "Stacked KL", ".3f", optional=True)),
    result, baseline=("arm", "none"), paired=True, ratio="fd_mnist", figures=figures,
    label=lambda p, quick: "quick" if quick else "reduced" if p.scale == "cpu" else "paper",
    titles={"variant": "loss", "arm": "tempering"},
    names={"data": DATA_NAMES, "variant": VARIANT_NAMES, "arm": ARM_NAMES},
    order=lambda r: (DATA.index(r["data"]), VARIANTS.index(r["variant"]), SHOWN.index(r["arm"]),
                     r["seed"]))
