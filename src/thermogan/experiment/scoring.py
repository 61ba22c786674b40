"""Scoring a trained generator with the metrics that suit its data, and the protocol used.

- Toy mixtures: modes covered, high-quality fraction and reverse KL (PacGAN protocol, 2,500
  samples, high quality within 3 std of a centre). 1-D data add the samples' mean and std beside
  the data's, and, for one Gaussian under a static score regulariser λ, the optimum's std
  σ/√(1+λ) (variational annealing's exactness check).
- MNIST: ``fd_mnist`` and ``kid_mnist`` of 10,000 samples against the 10,000 test images.
- Stacked MNIST: the same (channel features concatenated) plus modes and KL over the 1000 digit
  triples, from 26,000 samples (PacGAN protocol).
- Energies (``data: {kind: energy}``): KL both ways between the target normalised on a grid and
  the samples' histogram, and the mass per lobe or branch against the target's, from 50,000
  samples (``experiment/density_scorer.py``).
- Other images (CIFAR-10, folders, arrays): no trusted metric exists here (the feature network
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

import hashlib
import math
from pathlib import Path
from typing import Any

import numpy as np
import torch

from thermogan.data.download import data_dir
from thermogan.data.energy import EnergyData
from thermogan.experiment import density_scorer
from thermogan.experiment.build import build_data
from thermogan.experiment.config import ExperimentConfig
from thermogan.experiment.mnist_scorer import MnistScorer
from thermogan.metrics.classifier import MnistClassifier, load_classifier
from thermogan.metrics.features import features_and_digits
from thermogan.metrics.modes import mode_coverage
from thermogan.objectives.variational import optimum_std
from thermogan.provenance import provenance
from thermogan.train.rng import derive
from thermogan.train.trainer import Trainer

#: Data sets read by the MNIST feature network, and their default number of scored samples.
MNIST_LIKE = {"mnist": 10000, "stacked_mnist": 26000}
TOY_SAMPLES = 2500
STACKED_REFERENCE = 10000  # Stacked MNIST triples of the reference set (PacGAN's test set)
_REFERENCE_FEATURES: dict[tuple[str, str], np.ndarray] = {}  # reference_features' cache
NO_METRIC = "no trusted metric for this data: the feature network reads MNIST digits"


def eval_samples(cfg: ExperimentConfig) -> int:
    """Samples scored: ``eval.samples``, or the protocol's default for the data."""
    if cfg.eval.samples is not None:
        return cfg.eval.samples
    if cfg.data.kind == "energy":
        return density_scorer.SAMPLES
    return MNIST_LIKE.get(cfg.data.kind, TOY_SAMPLES)


def classifier_path(cfg: ExperimentConfig) -> Path:
    return Path(cfg.eval.classifier) if cfg.eval.classifier else (
        data_dir() / "classifier" / "mnist_cnn.pt")


def reference_config(cfg: ExperimentConfig) -> ExperimentConfig:
    """The config of the real reference set: the data's test split (10,000 Stacked triples)."""
    data = cfg.data.model_copy(update={"split": "test"})
    if cfg.data.kind == "stacked_mnist":
        data = data.model_copy(update={"n": STACKED_REFERENCE})
    return cfg.model_copy(update={"data": data})


def image_scorer(cfg: ExperimentConfig) -> MnistScorer | None:
    """The scorer of an MNIST-like run (classifier and test-set features); None for other data.

    Raises CheckpointError when the classifier is missing or unreadable, before any training.
    """
    if cfg.data.kind not in MNIST_LIKE:
        return None
    model, digest = load_classifier(classifier_path(cfg))
    images = build_data(reference_config(cfg)).images
    return MnistScorer(model, digest, images, split="test",
                       real_features=reference_features(model, digest, images))


def reference_features(model: MnistClassifier, digest: str, images: torch.Tensor) -> np.ndarray:
    """The classifier's features of the reference images, computed once per process for each
    (classifier file, image content) pair: a bench worker scores many runs against the same
    10,000 images (30,000 digits for Stacked MNIST: seconds each time)."""
    key = (digest, hashlib.sha256(np.ascontiguousarray(images.cpu().numpy()).data).hexdigest())
    if key not in _REFERENCE_FEATURES:
        if len(_REFERENCE_FEATURES) >= 4:  # a few reference sets at most (tens of MB each)
            del _REFERENCE_FEATURES[next(iter(_REFERENCE_FEATURES))]
        features = features_and_digits(model, images)[0]
        features.flags.writeable = False  # shared by every scorer of this reference
        _REFERENCE_FEATURES[key] = features
    return _REFERENCE_FEATURES[key]


def eval_labels(n: int, num_classes: int | None, seed: int) -> torch.Tensor | None:
    """The ``n`` labels a conditional G is scored on: uniform over its classes, drawn with their
    own generator (seeded ``derive(seed, "eval.labels")``), so the latents are those of an
    unconditional G's evaluation; None for an unconditional G."""
    if num_classes is None:
        return None
    gen = torch.Generator().manual_seed(derive(seed, "eval.labels"))
    return torch.randint(num_classes, (n,), generator=gen)  # (n,)


def evaluate(cfg: ExperimentConfig, trainer: Trainer,
             scorer: MnistScorer | None = None) -> dict[str, Any]:
    """The summary of the run's generator with its provenance; ``scorer`` saves reloading the
    image reference set."""
    return {**_score(cfg, trainer, scorer), "provenance": provenance(trainer.device)}


def _score(cfg: ExperimentConfig, trainer: Trainer,
           scorer: MnistScorer | None) -> dict[str, Any]:
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
    if isinstance(trainer.data, EnergyData):
        samples = trainer.sample(n, ev.seed, use_ema=use_ema)
        summary = density_scorer.density_summary(trainer.data, samples, ev.seed)
        return {**summary, "protocol": {**protocol, **summary["protocol"]}}
    if not trainer.data.is_image:
        return _toy_summary(cfg, trainer, n, use_ema, protocol, labels)
    scorer = scorer or image_scorer(cfg)
    if scorer is None:
        return {"metrics": {}, "protocol": {**protocol, "note": NO_METRIC}}
    scores = scorer.score(trainer.sample_batches(n, ev.seed, use_ema, batch=2000, labels=labels),
                          seed=ev.seed, labels=labels)
    return {"metrics": {k: v["value"] for k, v in scores.items()},
            "protocol": {**protocol, "classifier_sha256": scorer.digest}, "scores": scores}


def _toy_summary(cfg: ExperimentConfig, trainer: Trainer, n: int, use_ema: bool,
                 protocol: dict[str, Any], labels: torch.Tensor | None) -> dict[str, Any]:
    data = trainer.data
    samples = trainer.sample(n, cfg.eval.seed, use_ema=use_ema, labels=labels)
    coverage = mode_coverage(samples, data.centers, data.std, cfg.eval.threshold)
    metrics = {"modes": coverage.modes, "high_quality": coverage.high_quality,
               "reverse_kl": coverage.reverse_kl}
    protocol = {**protocol, "components": len(data.centers), "std": data.std,
                "threshold_std": cfg.eval.threshold}
    if data.dim == 1:
        metrics |= {"mean": float(samples.mean()), "std": float(samples.std())}
        protocol |= _moments_1d(cfg, data)
    return {"metrics": metrics, "protocol": protocol}


def _moments_1d(cfg: ExperimentConfig, data: Any) -> dict[str, float]:
    """The data's mean and std, and the optimum's std under a static score regulariser when
    the data are one Gaussian (ρ* = N(m, σ²/(1+λ)), docs/variational.md)."""
    centers = data.centers[:, 0]
    out = {"target_mean": float(centers.mean()),
           "target_std": float(math.sqrt(data.std**2 + centers.var()))}
    terms = cfg.regularisers()
    weight = terms[0].options().get("weight", 1.0) if len(terms) == 1 else None
    if (isinstance(weight, (int, float)) and weight > -1 and terms[0].kind == "score"
            and len(centers) == 1 and data.halfwidth is None):
        out["optimum_std"] = optimum_std(data.std, float(weight))
    return out


def headline(summary: dict[str, Any]) -> str:
    """The metrics of a summary in a few words (for figure titles and tables)."""
    m, p = summary["metrics"], summary["protocol"]
    if "kl_target_model" in m:
        return density_scorer.density_headline(m, p)
    if "modes" in m:
        text = (f"{m['modes']}/{p['components']} modes, {100 * m['high_quality']:.1f}% HQ, "
                f"KL {float(m['reverse_kl']):.3f}")
        return text + (f"\n{_moments_text(m, p)}" if "std" in m else "")
    if not m:
        return "no metric"
    text = f"fd_mnist {m['fd_mnist']:.2f}, KID {m['kid_mnist']:.4f}"
    if "stacked_modes" in m:
        text += f", {m['stacked_modes']}/1000 modes, KL {m['stacked_kl']:.3f}"
    if "class_fidelity" in m:
        text += f", class fidelity {100 * m['class_fidelity']:.1f}%"
    return text


def _moments_text(m: dict[str, Any], p: dict[str, Any]) -> str:
    text = (f"mean {m['mean']:.3f} (data {p['target_mean']:.3f}), std {m['std']:.3f} "
            f"(data {p['target_std']:.3f}")
    if "optimum_std" in p:
        text += f", optimum {p['optimum_std']:.3f}"
    return text + ")"


def format_metrics(summary: dict[str, Any]) -> str:
    """One line: the metrics and how they were computed."""
    m, p = summary["metrics"], summary["protocol"]
    how = f"{p['samples']} samples, seed {p['seed']}, {p['generator']} G, step {p['step']}"
    if "kl_target_model" in m:
        return f"{density_scorer.density_line(m, p)} ({how})"
    if "modes" in m:
        moments = f"  {_moments_text(m, p)}" if "std" in m else ""
        return (f"modes {m['modes']}/{p['components']}  high quality {100 * m['high_quality']:.1f}%"
                f"  reverse KL {float(m['reverse_kl']):.4f}{moments}  ({how})")
    if not m:
        return f"{p.get('note', 'no metric')} ({how})"
    ref = summary["scores"]["fd_mnist"]["protocol"]
    return (f"{headline(summary)}  ({how}; against {ref['real']} {ref['real_split']} images; "
            f"classifier {p['classifier_sha256'][:12]})")
