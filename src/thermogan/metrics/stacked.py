"""Stacked MNIST mode metrics (PacGAN protocol, Lin et al. 2018; Srivastava et al. 2017).

Each generated 3-channel image is read as three digits, one per channel, by an MNIST classifier;
its mode is the triple 100·r + 10·g + b (0–999). Reported: the number of modes with at least one
sample, and KL(mode histogram ‖ uniform over 1000) in nats. The protocol draws 26,000 samples.
Pure math here: the digits come in as an array.
"""

from __future__ import annotations

import numpy as np

MODES = 1000


def modes_from_digits(digits: np.ndarray) -> np.ndarray:
    """Digit triples (N, 3) -> modes (N,) in 0–999."""
    digits = np.asarray(digits, dtype=np.int64)
    if digits.ndim != 2 or digits.shape[1] != 3 or digits.min() < 0 or digits.max() > 9:
        raise ValueError(f"expected digit triples (N, 3) in 0–9, got shape {digits.shape}")
    return digits[:, 0] * 100 + digits[:, 1] * 10 + digits[:, 2]


def mode_stats(modes: np.ndarray) -> dict[str, float]:
    """Modes covered and KL(histogram ‖ uniform) of an array of modes in 0–999."""
    counts = np.bincount(np.asarray(modes, dtype=np.int64), minlength=MODES)
    p = counts[counts > 0] / counts.sum()
    return {"modes": int((counts > 0).sum()), "kl": float(np.sum(p * np.log(p * MODES))),
            "samples": int(counts.sum())}
