"""Class fidelity of a class-conditional generator G(z, y) (Mirza & Osindero 2014, "Conditional
Generative Adversarial Nets"; scored as the Langevin-stabilised GAN's conditional MNIST,
docs/langevin.md).

A classifier reads each sample G(z, y) drawn for a requested class y; the fidelity is the fraction
it reads as y::

    fidelity = (1/N) Σᵢ [ĉ(G(zᵢ, yᵢ)) = yᵢ],    se = sqrt(f (1 − f) / N)   (binomial)

With y uniform over K classes, a G that ignores y scores 1/K in expectation whatever it draws,
and a perfect G scores the classifier's accuracy on real digits. Pure math here: the predicted
and requested classes come in as arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class Fidelity:
    """The fidelity, its binomial standard error, the sample count and, per class, the
    fidelity on the samples requested for it (nan for a class never requested)."""

    value: float
    se: float
    samples: int
    per_class: list[float]


def class_fidelity(predicted: np.ndarray, requested: np.ndarray, num_classes: int) -> Fidelity:
    """How often ``predicted`` (N,) equals ``requested`` (N,), overall and per requested class
    in 0 … ``num_classes`` − 1."""
    predicted, requested = np.asarray(predicted), np.asarray(requested)
    if predicted.shape != requested.shape or predicted.ndim != 1 or not len(predicted):
        raise ValueError(f"expected two equal, non-empty (N,) arrays of classes, got shapes "
                         f"{predicted.shape} and {requested.shape}")
    if requested.min() < 0 or requested.max() >= num_classes:
        raise ValueError(f"requested classes must be 0 to {num_classes - 1}")
    hits = predicted == requested  # (N,)
    value = float(hits.mean())
    counts = np.bincount(requested, minlength=num_classes)
    right = np.bincount(requested, weights=hits, minlength=num_classes)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_class = (right / counts).tolist()  # nan where a class was never requested
    return Fidelity(value, math.sqrt(value * (1 - value) / len(hits)), len(hits), per_class)
