"""Scoring a trained generator with the metrics that suit its data, and the protocol used.

Each data class declares its ``family``; ``SCORERS[family]`` scores it (the contract is
``experiment/scorer.py``):

- ``mixture`` (toy mixtures and boxes, ``experiment/mixture_scorer.py``): modes covered,
  high-quality fraction and reverse KL (PacGAN protocol, 2,500 samples); 1-D data add the
  samples' mean and std beside the data's, and what G's term expects (the score regulariser's
  optimum, variational annealing's exactness check).
- ``mnist`` and ``stacked_mnist`` (``experiment/mnist_scorer.py``): ``fd_mnist`` and
  ``kid_mnist`` of 10,000 samples against the 10,000 test images; Stacked MNIST adds modes and KL
  over the 1000 digit triples, from 26,000 samples against 10,000 test triples.
- ``energy`` (``experiment/density_scorer.py``): KL both ways between the target normalised on a
  grid and the samples' histogram, and the mass per lobe or branch, from 50,000 samples.
- ``images`` (CIFAR-10, folders, arrays): no trusted metric exists here (the feature network
  reads MNIST digits), and the summary says so instead of inventing a number.

A class-conditional generator (Mirza & Osindero 2014) is scored with labels drawn uniformly over
its classes from their own stream (``eval_labels``); MNIST-like runs add its ``class_fidelity``,
the classifier's accuracy on the requested class of the same samples that fd_mnist reads.

Every summary is ``{"metrics": {name: value}, "protocol": {...}, "provenance": {...}}``; image
metrics also keep each metric's own protocol record (feature-network hash, sample counts, seed,
split) under ``scores``. ``provenance`` names the software and machine that scored
(``thermogan.provenance``): summary.json and eval.json both carry it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from thermogan.data import FAMILIES
from thermogan.experiment.config import ExperimentConfig
from thermogan.experiment.density_scorer import EnergyScorer
from thermogan.experiment.mixture_scorer import MixtureScorer
from thermogan.experiment.mnist_scorer import MnistFamily
from thermogan.experiment.scorer import Evaluation, Scorer, image_figure, scored_samples
from thermogan.provenance import provenance
from thermogan.train.rng import derive
from thermogan.train.trainer import Trainer

NO_METRIC = "no trusted metric for this data: the feature network reads MNIST digits"


class Unscored:
    """Images that no trusted metric reads: the summary says so (``experiment/scorer.py``)."""

    samples = 2500

    def prepare(self, cfg: ExperimentConfig) -> None:
        return None

    def score(self, ev: Evaluation) -> dict[str, Any]:
        return {"metrics": {}, "protocol": {**ev.protocol, "note": NO_METRIC}}

    def headline(self, summary: dict[str, Any]) -> str:
        return "no metric"

    def line(self, summary: dict[str, Any], how: str) -> str:
        return f"{summary['protocol'].get('note', 'no metric')} ({how})"

    figure = staticmethod(image_figure)


#: Data family -> its scorer.
SCORERS: dict[str, Scorer] = {
    "mixture": MixtureScorer(), "energy": EnergyScorer(), "mnist": MnistFamily(10000),
    "stacked_mnist": MnistFamily(26000, reference=10000), "images": Unscored(),
}


def scorer(kind: str) -> Scorer:
    """The scorer of the data set registered as ``kind`` (``data.kind``)."""
    return SCORERS[FAMILIES[kind]]


def eval_samples(cfg: ExperimentConfig) -> int:
    """Samples scored: ``eval.samples``, or the protocol's default for the data."""
    return scored_samples(cfg, scorer(cfg.data.kind).samples)


def prepare(cfg: ExperimentConfig) -> Any:
    """What the run's scoring needs loaded (the MNIST classifier and its reference features;
    None for most data), loaded before training so that a missing file fails first."""
    return scorer(cfg.data.kind).prepare(cfg)


def eval_labels(n: int, num_classes: int | None, seed: int) -> torch.Tensor | None:
    """The ``n`` labels a conditional G is scored on: uniform over its classes, drawn with their
    own generator (seeded ``derive(seed, "eval.labels")``), so the latents are those of an
    unconditional G's evaluation; None for an unconditional G."""
    if num_classes is None:
        return None
    gen = torch.Generator().manual_seed(derive(seed, "eval.labels"))
    return torch.randint(num_classes, (n,), generator=gen)  # (n,)


def evaluate(cfg: ExperimentConfig, trainer: Trainer, prepared: Any = None) -> dict[str, Any]:
    """The summary of the run's generator with its provenance; ``prepared`` (``prepare``'s)
    saves reloading what the scoring needs."""
    return {**_score(cfg, trainer, prepared), "provenance": provenance(trainer.device)}


def _score(cfg: ExperimentConfig, trainer: Trainer, prepared: Any) -> dict[str, Any]:
    """The metrics and protocol of the run's generator (the summary less its provenance)."""
    ev = cfg.eval
    use_ema = ev.use_ema and trainer.G_ema is not None
    n = eval_samples(cfg)
    protocol = {"dataset": cfg.data.kind, "samples": n, "seed": ev.seed,
                "generator": "ema" if use_ema else "raw", "step": trainer.step}
    labels = eval_labels(n, trainer.num_classes, ev.seed)
    if labels is not None:
        protocol["labels"] = (f"uniform over {trainer.num_classes} classes, drawn with seed "
                              f"derive({ev.seed}, 'eval.labels')")
    return SCORERS[trainer.data.family].score(
        Evaluation(cfg, trainer, n, use_ema, labels, protocol, prepared))


def headline(summary: dict[str, Any]) -> str:
    """The metrics of a summary in a few words (for figure titles and tables)."""
    if "diverged" in summary:
        return diverged_line(summary["diverged"])
    return scorer(summary["protocol"]["dataset"]).headline(summary)


def diverged_line(record: dict[str, Any]) -> str:
    """Where a run diverged (``runs.finish``'s record), in a few words."""
    return f"diverged at step {record['step']} ({record['loss']} {record['value']})"


def format_metrics(summary: dict[str, Any]) -> str:
    """One line: the metrics and how they were computed."""
    if "diverged" in summary:
        return diverged_line(summary["diverged"])
    p = summary["protocol"]
    how = f"{p['samples']} samples, seed {p['seed']}, {p['generator']} G, step {p['step']}"
    return scorer(p["dataset"]).line(summary, how)


def figure(cfg: ExperimentConfig, trainer: Trainer, path: Path, title: str) -> Path:
    """Data against samples as the data's family draws them (points, images, a density)."""
    return SCORERS[trainer.data.family].figure(cfg, trainer, path, title)
