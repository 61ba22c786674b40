"""Mode metrics on analytic cases."""

import math

import numpy as np
import pytest
import torch

from thermogan.data.toy import grid, ring
from thermogan.metrics.modes import mode_coverage, mode_histogram

HQ_2D = 1 - math.exp(-4.5)  # P(‖N(0, I₂)‖ ≤ 3) = 0.98889


def test_perfect_ring_sampler_matches_the_analytic_values():
    d = ring()
    rng = torch.Generator().manual_seed(0)
    n, reps = 2500, 60
    hq, kl = [], []
    for _ in range(reps):
        cov = mode_coverage(d.sample(n, rng).x, d.centers, d.std)
        assert cov.modes == 8
        hq.append(cov.high_quality)
        kl.append(cov.reverse_kl)
    # pooled high-quality fraction: binomial with p = 0.98889 over reps·n samples, 5 sigma
    se = math.sqrt(HQ_2D * (1 - HQ_2D) / (n * reps))
    assert abs(np.mean(hq) - HQ_2D) < 5 * se
    assert round(100 * np.mean(hq), 1) == 98.9
    # reverse KL of a multinomial histogram: E ≈ (K − 1) / 2N, N the high-quality count
    expected = 7 / (2 * n * HQ_2D)
    assert abs(np.mean(kl) - expected) < 5 * np.std(kl) / math.sqrt(reps)
    assert np.mean(kl) == pytest.approx(0.0014, abs=0.0003)


def test_everything_in_one_mode():
    d = ring()
    x = np.tile(d.centers[3], (500, 1))
    cov = mode_coverage(x, d.centers, d.std)
    assert cov.modes == 1 and cov.high_quality == 1.0
    assert cov.reverse_kl == pytest.approx(math.log(8))


def test_half_and_half_and_misses():
    d = grid()
    x = np.concatenate([np.tile(d.centers[0], (30, 1)), np.tile(d.centers[1], (30, 1)),
                        np.full((40, 2), 1.0)])  # (1, 1) is 1 from every centre: not high quality
    cov = mode_coverage(torch.as_tensor(x), d.centers, d.std)
    assert cov.modes == 2 and cov.high_quality == pytest.approx(0.6)
    assert cov.reverse_kl == pytest.approx(math.log(25 / 2))


def test_threshold_is_in_standard_deviations():
    centers = np.zeros((1, 2))
    x = np.array([[0.29, 0.0], [0.31, 0.0]])
    assert mode_histogram(x, centers, std=0.1).tolist() == [1]
    assert mode_histogram(x, centers, std=0.1, threshold=3.2).tolist() == [2]


def test_no_high_quality_sample_gives_infinite_kl():
    cov = mode_coverage(np.full((10, 2), 9.0), ring().centers, 0.01)
    assert cov.modes == 0 and cov.high_quality == 0.0 and math.isinf(cov.reverse_kl)


def test_dimension_mismatch_is_an_error():
    with pytest.raises(ValueError, match="dimension"):
        mode_coverage(np.zeros((5, 3)), ring().centers, 0.01)
