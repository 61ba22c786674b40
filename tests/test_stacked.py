"""Stacked MNIST mode metrics on analytic cases."""

import math

import numpy as np
import pytest

from thermogan.metrics.stacked import mode_stats, modes_from_digits


def test_uniform_over_every_mode():
    stats = mode_stats(np.repeat(np.arange(1000), 26))
    assert stats == {"modes": 1000, "kl": pytest.approx(0.0, abs=1e-12), "samples": 26000}


def test_collapse_to_ten_modes():
    stats = mode_stats(np.repeat(np.arange(0, 1000, 100), 5))
    assert stats["modes"] == 10 and stats["kl"] == pytest.approx(math.log(100))


def test_random_sampler_kl_is_small_and_close_to_its_expectation():
    # a perfect sampler's histogram of N draws over K modes: E[KL] ≈ (K − 1) / 2N
    rng = np.random.default_rng(0)
    kls = [mode_stats(rng.integers(0, 1000, 26000))["kl"] for _ in range(20)]
    assert np.mean(kls) == pytest.approx(999 / 52000, rel=0.1)


def test_triples():
    assert modes_from_digits(np.array([[1, 2, 3], [0, 0, 9]])).tolist() == [123, 9]
    with pytest.raises(ValueError):
        modes_from_digits(np.array([[1, 2, 10]]))
