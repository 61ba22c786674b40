"""Features of the project's MNIST classifier: the feature layer of the image metrics.

Images are read channel by channel (a colour Stacked MNIST image is three digits), and each
channel gives the classifier's penultimate 128-d features and its predicted digit.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from thermogan.metrics.classifier import MnistClassifier

FEATURE_NETWORK = "thermogan MNIST CNN (penultimate layer, 128-d per channel)"


@torch.no_grad()
def features_and_digits(model: MnistClassifier, images: Tensor,
                        batch: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Features (N, 128·C) and predicted digits (N, C) of images (N, C, H, W), by channel."""
    feats, digits = [], []
    for i in range(0, len(images), batch):
        chunk = images[i:i + batch].float().cpu()  # (B, C, H, W)
        b, c = chunk.shape[:2]
        h = model.features(chunk.reshape(b * c, 1, *chunk.shape[2:]))  # (B·C, 128)
        digits.append(model.fc2(h).argmax(1).reshape(b, c).numpy())
        feats.append(h.reshape(b, c * h.shape[1]).numpy())
    return np.concatenate(feats), np.concatenate(digits)
