"""Image metrics from the project's MNIST classifier, each with the protocol that produced it.

- ``fd_mnist``: Fréchet distance between the classifier's penultimate features (128-d) of real
  images and of generated ones. Not FID: no Inception network is involved, and the value is only
  comparable between results that record the same feature-network hash.
- ``kid_mnist``: KID on the same features (unbiased, cubic kernel, seeded subsets).
- ``stacked``: Stacked MNIST modes and KL, each channel read by the classifier.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import Tensor

from thermogan.metrics.classifier import MnistClassifier
from thermogan.metrics.frechet import FeatureStats, frechet_distance
from thermogan.metrics.kid import kid
from thermogan.metrics.stacked import classify_channels, mode_stats, modes_from_digits


@torch.no_grad()
def features(model: MnistClassifier, images: Tensor, batch: int = 500) -> np.ndarray:
    """Penultimate features (N, 128) of single-channel images (N, 1, H, W)."""
    return np.concatenate([model.features(images[i:i + batch].float().cpu()).numpy()
                           for i in range(0, len(images), batch)])


def fd_mnist(model: MnistClassifier, digest: str, real: Tensor, fake: Tensor,
             protocol: dict[str, Any]) -> dict[str, Any]:
    """Fréchet distance of classifier features, real against fake, with its protocol."""
    stats = []
    for images in (real, fake):
        s = FeatureStats(MnistClassifier.feature_dim)
        s.update(features(model, images))
        stats.append(s.mean_cov())
    value = frechet_distance(*stats[0], *stats[1])
    return {"value": value, "protocol": {"feature_network": "thermogan MNIST CNN (penultimate, "
                                                            "128-d)", "sha256": digest,
                                         "real": len(real), "fake": len(fake), **protocol}}


def kid_mnist(model: MnistClassifier, digest: str, real: Tensor, fake: Tensor,
              protocol: dict[str, Any], subsets: int = 100, subset_size: int = 1000,
              seed: int = 0) -> dict[str, Any]:
    """KID (mean and std over subsets) of classifier features, with its protocol."""
    mean, std = kid(features(model, real), features(model, fake), subsets, subset_size, seed)
    return {"value": mean, "std": std, "protocol": {
        "feature_network": "thermogan MNIST CNN (penultimate, 128-d)", "sha256": digest,
        "real": len(real), "fake": len(fake), "subsets": subsets, "subset_size": subset_size,
        "subset_seed": seed, **protocol}}


@torch.no_grad()
def stacked(model: MnistClassifier, digest: str, fake: Tensor,
            protocol: dict[str, Any]) -> dict[str, Any]:
    """Stacked MNIST modes and KL to uniform of generated colour images (N, 3, H, W)."""
    def classify(x: np.ndarray) -> np.ndarray:
        return model(torch.from_numpy(x).float()).argmax(1).numpy()

    digits = classify_channels(fake.cpu().numpy(), classify)
    stats = mode_stats(modes_from_digits(digits))
    return {"modes": stats["modes"], "kl": stats["kl"], "protocol": {
        "feature_network": "thermogan MNIST CNN (per channel)", "sha256": digest,
        "samples": stats["samples"], **protocol}}
