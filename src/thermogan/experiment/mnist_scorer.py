"""Scoring generated images with the project's MNIST classifier, each metric with its protocol.

The scoring layer over ``metrics/`` (as torch-fidelity layers it): the math lives in
``metrics/frechet.py``, ``kid.py`` and ``stacked.py``, the features in ``metrics/features.py``;
this module caches the reference set's features and statistics and records every protocol.

- ``fd_mnist``: Fréchet distance between the classifier's penultimate features (128-d per channel)
  of the real *test* set and of generated images. Not FID: no Inception network is involved, and
  a value is only comparable with values that record the same feature-network hash. Colour
  images (Stacked MNIST) are read channel by channel and their features concatenated (384-d).
- ``kid_mnist``: KID on the same features (unbiased, cubic polynomial kernel, seeded subsets).
- ``stacked``: Stacked MNIST modes and KL to uniform over the 1000 digit triples (PacGAN
  protocol: 26,000 samples, each channel classified separately).
- ``class_fidelity`` (class-conditional G, given the requested labels): the fraction of samples
  the classifier reads as the class G was asked for (``metrics/fidelity.py``; a Stacked MNIST
  sample's class is its digit triple), with its binomial standard error and per-class values.

``MnistScorer`` holds the classifier and the real test set's features, computed once, so a
training run can score its generator every few hundred steps without recomputing them.
``MnistFamily`` is the scorer of the families ``mnist`` (10,000 samples against the 10,000 test
images) and ``stacked_mnist`` (26,000 samples against 10,000 test triples, PacGAN's protocol):
it loads the classifier before training (``prepare``) and scores a run's generator with it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from thermogan.data.download import data_dir
from thermogan.experiment.build import build_data
from thermogan.experiment.config import ExperimentConfig
from thermogan.experiment.scorer import Evaluation, image_figure
from thermogan.metrics.classifier import MnistClassifier, load_classifier
from thermogan.metrics.features import FEATURE_NETWORK, features_and_digits
from thermogan.metrics.fidelity import class_fidelity
from thermogan.metrics.frechet import FeatureStats, frechet_distance
from thermogan.metrics.kid import kid
from thermogan.metrics.stacked import mode_stats, modes_from_digits

CLASSIFIER = "thermogan MNIST CNN (its predicted digit, per channel)"
_REFERENCE_FEATURES: dict[tuple[str, str], np.ndarray] = {}  # reference_features' cache


class MnistScorer:
    """Scores generated images against a real reference set with the MNIST classifier.

    ``real`` is the reference (the test split); ``split`` names it in the protocol records;
    ``real_features``, when given, are the model's features of ``real``, computed before.
    """

    def __init__(self, model: MnistClassifier, digest: str, real: Tensor, split: str = "test",
                 real_features: np.ndarray | None = None):
        self.model, self.digest, self.split = model.eval(), digest, split
        self.real_features = (features_and_digits(model, real)[0] if real_features is None
                              else real_features)
        self.real_stats = self._stats(self.real_features)
        self.channels = real.shape[1]

    @staticmethod
    def _stats(feats: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        stats = FeatureStats(feats.shape[1])
        stats.update(feats)
        return stats.mean_cov()

    def protocol(self, fake: int, **extra: Any) -> dict[str, Any]:
        return {"feature_network": FEATURE_NETWORK, "sha256": self.digest,
                "channels": self.channels, "real": len(self.real_features),
                "real_split": self.split, "fake": fake, **extra}

    def fd(self, fake_features: np.ndarray) -> float:
        """fd_mnist of generated features against the reference set."""
        return frechet_distance(*self.real_stats, *self._stats(fake_features))

    def score(self, fake: Tensor | Iterable[Tensor], seed: int = 0, kid_subsets: int = 100,
              kid_subset_size: int = 1000,
              labels: Tensor | None = None) -> dict[str, dict[str, Any]]:
        """fd_mnist and kid_mnist (and Stacked MNIST modes and KL for colour images) of ``fake``,
        and with ``labels`` (N,), the classes a conditional G was asked for, its class fidelity.

        ``fake`` is a tensor of images or an iterable of batches (so that the images never sit
        in memory all at once); ``seed`` is recorded, and seeds KID's subsets.
        """
        batches = [fake] if isinstance(fake, Tensor) else fake
        parts = [features_and_digits(self.model, b) for b in batches]
        feats = np.concatenate([p[0] for p in parts])
        digits = np.concatenate([p[1] for p in parts])
        n = len(feats)
        out: dict[str, dict[str, Any]] = {
            "fd_mnist": {"value": self.fd(feats), "protocol": self.protocol(n, seed=seed)}}
        mean, std = kid(self.real_features, feats, kid_subsets, kid_subset_size, seed)
        out["kid_mnist"] = {"value": mean, "std": std, "protocol": self.protocol(
            n, seed=seed, subsets=kid_subsets, subset_size=kid_subset_size)}
        if self.channels == 3:
            stats = mode_stats(modes_from_digits(digits))
            for key in ("modes", "kl"):
                out[f"stacked_{key}"] = {"value": stats[key],
                                         "protocol": self.protocol(n, seed=seed, modes_of=1000)}
        if labels is not None:
            out["class_fidelity"] = self.fidelity(digits, labels, seed)
        return out

    def fidelity(self, digits: np.ndarray, labels: Tensor, seed: int) -> dict[str, Any]:
        """The class-fidelity record of predicted ``digits`` (N, C) against ``labels`` (N,)."""
        classes = 10 ** self.channels  # a digit per channel: 10 classes, or 1000 triples
        predicted = digits[:, 0] if self.channels == 1 else modes_from_digits(digits)
        f = class_fidelity(predicted, labels.cpu().numpy(), classes)
        record: dict[str, Any] = {"value": f.value, "se": f.se, "protocol": {
            "classifier": CLASSIFIER, "sha256": self.digest,
            "fake": f.samples, "seed": seed, "classes": classes,
            "rule": "fraction of samples the classifier reads as the class G was given"}}
        if classes <= 10:
            record["per_class"] = f.per_class
        return record


class MnistFamily:
    """The scorer of MNIST-like data (``experiment/scorer.py`` gives the contract): ``samples``
    scored by default, against the data's test split, or ``reference`` draws of it (Stacked
    MNIST's triples; None: the split as it is)."""

    def __init__(self, samples: int, reference: int | None = None) -> None:
        self.samples, self.reference = samples, reference

    def reference_config(self, cfg: ExperimentConfig) -> ExperimentConfig:
        """The config of the real reference set: the data's test split."""
        data = cfg.data.model_copy(update={"split": "test"})
        if self.reference is not None:
            data = data.model_copy(update={"n": self.reference})
        return cfg.model_copy(update={"data": data})

    def prepare(self, cfg: ExperimentConfig) -> MnistScorer:
        """The classifier and the reference set's features. Raises CheckpointError when the
        classifier is missing or unreadable, before any training."""
        model, digest = load_classifier(classifier_path(cfg))
        images = build_data(self.reference_config(cfg)).images
        return MnistScorer(model, digest, images, split="test",
                           real_features=reference_features(model, digest, images))

    def score(self, ev: Evaluation) -> dict[str, Any]:
        scorer = ev.prepared or self.prepare(ev.cfg)
        seed = ev.cfg.eval.seed
        scores = scorer.score(ev.trainer.sample_batches(ev.n, seed, ev.use_ema, batch=2000,
                                                        labels=ev.labels),
                              seed=seed, labels=ev.labels)
        return {"metrics": {k: v["value"] for k, v in scores.items()},
                "protocol": {**ev.protocol, "classifier_sha256": scorer.digest},
                "scores": scores}

    def headline(self, summary: dict[str, Any]) -> str:
        m = summary["metrics"]
        text = f"fd_mnist {m['fd_mnist']:.2f}, KID {m['kid_mnist']:.4f}"
        if "stacked_modes" in m:
            text += f", {m['stacked_modes']}/1000 modes, KL {m['stacked_kl']:.3f}"
        if "class_fidelity" in m:
            text += f", class fidelity {100 * m['class_fidelity']:.1f}%"
        return text

    def line(self, summary: dict[str, Any], how: str) -> str:
        ref = summary["scores"]["fd_mnist"]["protocol"]
        return (f"{self.headline(summary)}  ({how}; against {ref['real']} {ref['real_split']} "
                f"images; classifier {summary['protocol']['classifier_sha256'][:12]})")

    figure = staticmethod(image_figure)


def classifier_path(cfg: ExperimentConfig) -> Path:
    """``eval.classifier``, else the data folder's classifier/mnist_cnn.pt."""
    return Path(cfg.eval.classifier) if cfg.eval.classifier else (
        data_dir() / "classifier" / "mnist_cnn.pt")


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
