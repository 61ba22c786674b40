"""Fréchet distance and KID: independent references and analytic cases."""

import numpy as np
import pytest
from scipy import linalg

from thermogan.metrics.frechet import FeatureStats, frechet_distance, trace_sqrt_product
from thermogan.metrics.kid import kid, mmd2_unbiased


def random_cov(rng, d):
    a = rng.normal(size=(d, d))
    return a @ a.T + 0.1 * np.eye(d)


def scipy_reference(mu1, s1, mu2, s2):
    covmean = linalg.sqrtm(s1 @ s2)
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1) + np.trace(s2)
                 - 2 * np.trace(covmean).real)


@pytest.mark.parametrize("d", [2, 10, 64])
def test_matches_scipy_sqrtm(d):
    rng = np.random.default_rng(d)
    mu1, mu2 = rng.normal(size=d), rng.normal(size=d)
    s1, s2 = random_cov(rng, d), random_cov(rng, d)
    assert frechet_distance(mu1, s1, mu2, s2) == pytest.approx(scipy_reference(mu1, s1, mu2, s2),
                                                               rel=1e-8)


def test_equal_covariances_leave_the_mean_term():
    rng = np.random.default_rng(1)
    s = random_cov(rng, 8)
    mu1, mu2 = rng.normal(size=8), rng.normal(size=8)
    assert frechet_distance(mu1, s, mu2, s) == pytest.approx(((mu1 - mu2) ** 2).sum(), rel=1e-9)
    assert frechet_distance(mu1, s, mu1, s) == pytest.approx(0.0, abs=1e-9)


def test_diagonal_covariances_in_closed_form():
    v1, v2 = np.array([1.0, 4.0, 9.0]), np.array([4.0, 1.0, 0.25])
    mu = np.array([1.0, 0.0, -1.0])
    expected = 2.0 + ((np.sqrt(v1) - np.sqrt(v2)) ** 2).sum()
    assert frechet_distance(mu, np.diag(v1), np.zeros(3), np.diag(v2)) == pytest.approx(expected)
    assert trace_sqrt_product(np.diag(v1), np.diag(v2)) == pytest.approx(np.sqrt(v1 * v2).sum())


def test_singular_covariances_are_handled():
    s1 = np.diag([1.0, 0.0])
    assert frechet_distance(np.zeros(2), s1, np.zeros(2), s1) == pytest.approx(0.0, abs=1e-12)


def test_statistics_do_not_depend_on_the_batch_size():
    x = np.random.default_rng(2).normal(size=(1000, 5)) * 3 + 1
    results = []
    for batch in (1000, 128, 7):
        stats = FeatureStats(5)
        for i in range(0, 1000, batch):
            stats.update(x[i:i + batch])
        results.append(stats.mean_cov())
    for mu, cov in results:
        np.testing.assert_allclose(mu, x.mean(0), rtol=1e-12)
        np.testing.assert_allclose(cov, np.cov(x, rowvar=False), rtol=1e-9, atol=1e-12)


def test_mmd_matches_a_loop_reference():
    rng = np.random.default_rng(3)
    x, y = rng.normal(size=(30, 4)), rng.normal(size=(40, 4)) + 0.5
    k = lambda a, b: (a @ b / 4 + 1) ** 3  # noqa: E731
    xx = sum(k(x[i], x[j]) for i in range(30) for j in range(30) if i != j) / (30 * 29)
    yy = sum(k(y[i], y[j]) for i in range(40) for j in range(40) if i != j) / (40 * 39)
    xy = sum(k(a, b) for a in x for b in y) / (30 * 40)
    assert mmd2_unbiased(x, y) == pytest.approx(xx + yy - 2 * xy, rel=1e-10)


def test_kid_is_unbiased_near_zero_for_one_distribution_and_seeded():
    rng = np.random.default_rng(4)
    a, b = rng.normal(size=(2000, 8)), rng.normal(size=(2000, 8))
    mean, std = kid(a, b, subsets=50, subset_size=500, seed=0)
    assert abs(mean) < 3 * std / np.sqrt(50) + 1e-3  # unbiased: centred on 0
    assert kid(a, b, 50, 500, seed=0) == (mean, std)
    far, _ = kid(a, b + 1.0, 20, 500, seed=0)
    assert far > 10 * abs(mean)
