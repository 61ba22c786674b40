"""The Langevin-stabilised GAN on class-conditional MNIST (its Fig. 2; docs/langevin.md):
plain, blur only, SGLD only, blur + SGLD, over seeds, from the same initial G and D.

The conditional GAN (Mirza & Osindero 2014) is ``configs/mnist_cond_cpu.yaml`` (``mnist_cond.yaml``
at paper scale); its twin ``mnist_langevin_cpu.yaml`` (``mnist_langevin.yaml``) adds the paper's
two changes: a blur of both sides of D (``tempering``, the coarse-graining A_σ of eq. 9) and an
SGLD D (``optim.d``, eq. 10-11). The twins must differ in nothing else. Each method is the plain
config with some of the twin's parts::

    plain: none · blur only: tempering · SGLD only: optim.d · blur + SGLD: both

and "blur (adaptive)" (issue [11]): the twin's blur with its σ set by the adaptive temperature's
controller (ADA's rule, from E[sign D(real)]) instead of the fade, 0 from where the fade ends.

Weights are drawn from the run seed before any of these parts exists, and every random stream is
named by its consumer (``train/rng.py``), so the four methods of a seed start from the same G and
D and see the same data and latents. Scores: fd_mnist and class fidelity (``metrics/fidelity.py``)
of the protocol's samples (labels uniform), and training wall time; mean ± SE over seeds, each
method tested against plain paired by seed. Seed 0
keeps its checkpoints, which give ``classes.png``: samples per class over training (Fig. 2);
``curves.png`` shows the tracked fd_mnist and the SGLD D's injected noise over training (the
paper says its covariance-controlled noise level drops as training goes).

Protocols:
- reduced (CPU, the default): the ``_cpu`` configs, 3 seeds of 10,000 steps; measured 21 minutes
  per seed on 1 worker for the four methods (about 30 minutes in all on 2 workers; the adaptive
  blur adds a fifth run per seed, about a quarter more).
- quick: 3 seeds of 1,500 steps, 2,000 samples scored, no tracking; measured 10 minutes on 1
  worker (about 5 on 2 workers).
- paper (GPU): ``--scale paper --device cuda --workers 1``.
"""

from __future__ import annotations

import json
import re
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from thermogan.bench.engine import Bench, Column, Job, known, scaled_config, scored, twins
from thermogan.errors import UsageError
from thermogan.experiment.config import SHIPPED

#: method -> the parts it takes from the Langevin twin ("adaptive": ``adaptive_blur``)
METHODS: dict[str, tuple[str, ...]] = {
    "plain": (),
    "blur only": ("tempering",),
    "SGLD only": ("optim.d",),
    "blur + SGLD": ("tempering", "optim.d"),
    "blur (adaptive)": ("tempering", "adaptive"),
}
TWIN_KEYS = ("name", "tempering", "optim.d")  # the keys in which the twins may differ
KEPT = 5  # checkpoints kept by seed 0 (the columns of classes.png)
SLUG = re.compile(r"\W+")  # a method's name in its run folder: blur + SGLD -> blur_SGLD


@dataclass(frozen=True)
class Protocol:
    seeds: int = field(default=3, metadata={"help": "seeds per method"})
    steps: int | None = field(default=None, metadata={
        "help": "steps per run (and Fig. 1's ring run)", "also": ("toy_steps",)})
    overrides: tuple[str, ...] = field(default=(), metadata={"cli": False})  # of every run
    scale: str = field(default="cpu", metadata={
        "help": "which configs: the *_cpu.yaml ones, or the paper's", "choices": ("cpu", "paper")})
    toy_steps: int | None = field(default=None, metadata={"cli": False})  # None: 12,000
    methods: tuple[str, ...] = field(default=(), metadata={
        "help": f"comma-separated subset of: {', '.join(METHODS)}"})
    configs: Path = SHIPPED
    device: str = field(default="cpu", metadata={"help": "cpu, cuda, ... (paper scale: cuda)"})


QUICK = Protocol(steps=1500, overrides=("eval.samples=2000", "eval.track_every=null"),
                 toy_steps=3000)
FIG1_CONFIG = "ring8_langevin.yaml"  # Fig. 1: D's contour lines on the ring, seed 0


def langevin_parts(plain: Path, twin: Path) -> dict[str, str]:
    """``{key: override}`` of the twin's tempering and optim.d (as ``key=<JSON>``), after
    checking that the twins exist and differ in nothing else."""
    _, b = twins(plain, twin, TWIN_KEYS, "the mnist_cond*.yaml and mnist_langevin*.yaml files")
    return {"tempering": f"tempering={json.dumps(b['tempering'])}",
            "optim.d": f"optim.d={json.dumps(b['optim']['d'])}"}


def adaptive_blur(twin: Path, steps: int) -> str:
    """The override that hands the twin's blur σ to the ADA-style controller
    (``tempering/control.Adaptive``): started hot (u = 1, σ = the twin's σ), at a pace that lets
    u cross [0, 1] within the fade (fade·steps·batch real images, not ADA's 500k, which a
    CPU-scale run would never move through), and 0 where the fade ends (the blur's default
    ceiling)."""
    from thermogan.experiment import config

    cfg = config.load(twin)
    blur = cfg.tempering.options() if getattr(cfg.tempering, "kind", None) == "blur" else {}
    sigma = blur.get("sigma", 1.0)  # the blur's default
    if "fade" not in blur or not isinstance(sigma, (int, float)):
        raise UsageError(f"{twin}: 'blur (adaptive)' needs the twin's tempering to be a blur "
                         "with a number sigma and a fade")
    images = max(1, int(blur["fade"] * steps)) * cfg.train.batch_size
    return f"tempering.sigma={{kind: adaptive, start: 1, hot: {float(sigma)}, images: {images}}}"


def _budget(p: Protocol, seed: int, steps: int) -> list[str]:
    out = ([] if p.steps is None else [f"train.steps={p.steps}"]) + list(p.overrides)
    if seed == 0:  # the per-class grid over training
        out += ["train.keep_checkpoints=true", f"train.checkpoint_every={max(1, steps // KEPT)}"]
    else:
        out += ["train.keep_checkpoints=false", f"train.checkpoint_every={steps}"]
    return out


def plan(p: Protocol, out: Path) -> list[Job]:
    """Every (method, seed) run, seed by seed (an interrupted bench has whole comparisons)."""
    from thermogan.experiment import config

    known("--methods", "method", p.methods, METHODS)
    plain, twin = (scaled_config(p.configs, f"mnist_{k}", p.scale) for k in ("cond", "langevin"))
    parts = langevin_parts(plain, twin)
    if not (p.configs / FIG1_CONFIG).is_file():
        raise UsageError(f"benchmark config {p.configs / FIG1_CONFIG} (Fig. 1) does not exist "
                         "(run from the repository root or pass --configs DIR)")
    steps = p.steps or config.load(plain).train.steps
    if "blur (adaptive)" in (p.methods or METHODS):
        parts["adaptive"] = adaptive_blur(twin, steps)
    jobs = []
    for seed in range(p.seeds):
        for method in (m for m in METHODS if not p.methods or m in p.methods):
            name = f"langevin_{SLUG.sub('_', method).strip('_')}_seed{seed}"
            overrides = [parts[k] for k in METHODS[method]] + _budget(p, seed, steps) + [
                f"seed={seed}", f"name={name}", "train.progress=false",
                "train.tensorboard=false"]
            jobs.append(Job((("method", method),), seed, plain, tuple(overrides),
                            out / "runs" / name, p.device))
    return jobs


def result(job: Job, summary: dict[str, Any], p: Protocol) -> dict[str, Any]:
    """A run's scores, its tracked fd_mnist and its SGLD D's logged noise level."""
    from thermogan.experiment.tracking import read_track
    from thermogan.report.curves import logged

    return {**scored(job, summary), "run_dir": str(job.run_dir),
            "class_fidelity_se": summary["scores"]["class_fidelity"]["se"],
            "track": [[r["step"], r["fd_mnist"]] for r in read_track(job.run_dir)],
            "noise": np.column_stack(logged(job.run_dir, "d_noise_std")).tolist()}


def curves(results: list[dict[str, Any]], path: Path) -> Path:
    """``curves.png``: tracked fd_mnist per method (when the runs tracked it) and the SGLD D's
    mean injected noise std, over training; thin lines are seeds, bold ones their mean."""
    from matplotlib.figure import Figure

    from thermogan.report.curves import seed_curves
    from thermogan.report.figures import save_figure

    panels = [(key, label) for key, label in (
        ("track", "fd_mnist (tracked samples)"), ("noise", "SGLD D: mean injected noise std"))
        if any(r[key] for r in results)]
    fig = Figure(figsize=(6.0 * max(1, len(panels)), 4.2), layout="constrained")
    for ax, (key, label) in zip(fig.subplots(1, max(1, len(panels)), squeeze=False)[0], panels):
        for i, method in enumerate(METHODS):
            seed_curves(ax, [r[key] for r in results if r["method"] == method], f"C{i}", method)
        ax.set(xlabel="training step", ylabel=label, yscale="log" if key == "track" else "linear")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle("Over training, per method: thin lines seeds, bold lines their mean", fontsize=10)
    return save_figure(fig, path)


def figure(results: list[dict[str, Any]], path: Path) -> Path | None:
    """``classes.png``: seed 0 of each method, samples per class at its kept checkpoints."""
    from thermogan.experiment import runs
    from thermogan.report.classes import class_grid, samples_over_training

    rows = []
    for r in sorted((r for r in results if r["seed"] == 0),
                    key=lambda r: list(METHODS).index(r["method"])):
        _, trainer = runs.open_run(Path(r["run_dir"]))
        rows.append((r["method"], samples_over_training(trainer, r["run_dir"])))
    if not rows:
        return None
    return class_grid(rows, path, "Samples per class over training, seed 0 (the Langevin GAN's "
                      "Fig. 2)", "Rows of blocks: methods; in a block, one row per class 0-9 and "
                      "the same 4 latents z in every row, block and step.")


def contours(p: Protocol, out: Path) -> Path | None:
    """``contours.png``: the paper's Fig. 1 from seed 0 of ``ring8_langevin.yaml`` (D's contour
    lines over samples at three points of training and the noise level; reused when trained)."""
    from thermogan.experiment import config, runs
    from thermogan.report.contours import contour_panel

    overrides = ["seed=0", f"device={p.device}", "train.progress=false", "train.tensorboard=false"]
    if p.toy_steps is not None:
        every = max(p.toy_steps // 3, 1)
        overrides += [f"train.steps={p.toy_steps}", f"eval.snapshot_every={every}"]
    cfg = config.load(p.configs / FIG1_CONFIG, overrides)
    run_dir = out / "runs" / "ring8_langevin_seed0"
    runs.train_or_reuse(cfg, run_dir)
    return contour_panel(run_dir, out / "contours.png",
                         title="ring8_langevin, seed 0 (the Langevin GAN's Fig. 1)")


def figures(results: list[dict[str, Any]], out: Path, p: Protocol) -> list[Path]:
    """classes.png and curves.png; then the ring run of Fig. 1 trains and gives contours.png."""
    made = [figure(results, out / "classes.png"), curves(results, out / "curves.png"),
            contours(p, out)]
    return [path for path in made if path is not None]


def header(p: Protocol, label: str, results: list[dict[str, Any]], ran: str) -> str:
    first = results[0]["protocol"]
    return (f"Langevin-stabilised conditional GAN on MNIST ({label}, {p.scale} configs): "
            f"{p.seeds} seed(s), the same initial G and D for every method; {first['step']} "
            f"steps; {first['samples']} samples scored (labels uniform) against the test set; "
            f"wall time: training of one run on one thread; {ran}. "
            f"Classifier {first['classifier_sha256'][:12]}.")


BENCH = Bench(
    "langevin", "conditional MNIST: plain, blur, SGLD D, blur + SGLD D (the Langevin-stabilised "
    "GAN's Fig. 2)", Protocol(), QUICK, plan, header,
    (Column("fd_mnist", "fd_mnist", ".1f"),
     Column("class_fidelity", "class fidelity %", ".1f", scale=100)),
    result, baseline=("method", "plain"), paired=True, figures=figures,
    record=lambda p: {**asdict(p), "methods": METHODS},
    label=lambda p, quick: "quick" if quick else "reduced" if p.scale == "cpu" else "paper")
