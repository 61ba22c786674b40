"""The grid protocol for samplers of an unnormalised density (metrics/density.py), against
independent references: Gaussian cell masses from scipy's CDF, KL from scipy.stats.entropy, the
exact expectation of the KLs of an exact sampler (binomial cell counts), and a one-lobe sampler
whose KL(model‖target) is log 2."""

import math

import numpy as np
import pytest
import torch
from scipy.stats import binom, entropy, norm

from thermogan.data.energy import energy
from thermogan.metrics.density import (
    density_scores,
    grid_target,
    kl_divergence,
    sample_grid,
)


def gaussian(x):
    return 0.5 * ((x / 1.5) ** 2).sum(1)


def test_cell_masses_integrate_the_density():
    t = grid_target(gaussian, low=-4, high=4, cells=16, subdivisions=8)
    edges = norm.cdf(np.linspace(-4, 4, 17) / 1.5)
    axis = np.diff(edges) / (edges[-1] - edges[0])
    np.testing.assert_allclose(t.probs, np.outer(axis, axis), rtol=2e-3)
    assert t.probs.sum() == pytest.approx(1) and t.region_mass == pytest.approx((1.0,))


def test_u1_lobes_hold_half_the_target_each():
    d = energy("u1")
    t = grid_target(d.energy, d.regions, 2)
    assert t.region_mass == pytest.approx((0.5, 0.5), abs=1e-9)
    np.testing.assert_allclose(t.probs, t.probs[::-1], rtol=1e-9)  # mirror in z1


def test_kl_is_scipys_relative_entropy():
    rng = np.random.default_rng(0)
    p, q = rng.random(50), rng.random(50)
    p[:5] = 0  # 0 log 0 = 0
    p, q = p / p.sum(), q / q.sum()
    assert kl_divergence(p, q) == pytest.approx(entropy(p, q), rel=1e-12)
    # samples at known cells: q_i = (c_i + α)/(N + αM), both directions
    t = grid_target(gaussian, low=-2, high=2, cells=4, subdivisions=4)
    centres = -2 + (np.arange(4) + 0.5)
    counts = rng.integers(0, 20, (4, 4))
    x = np.concatenate([np.tile([centres[i], centres[j]], (counts[i, j], 1))
                        for i in range(4) for j in range(4)])
    s = density_scores(x, t, smoothing=0.5)
    q = (counts + 0.5) / (counts.sum() + 0.5 * 16)
    assert s.kl_target_model == pytest.approx(entropy(t.probs.ravel(), q.ravel()), rel=1e-12)
    assert s.kl_model_target == pytest.approx(entropy(q.ravel(), t.probs.ravel()), rel=1e-12)
    assert s.samples == counts.sum() and s.outside == 0


def expected_kls(probs, n, alpha):
    """The exact expectations of both KLs for the histogram of n exact draws: each is a sum over
    cells of a function of that cell's count, whose marginal is Binomial(n, p_i)."""
    p = probs.ravel()[:, None]  # (M, 1)
    c = np.arange(n + 1)[None, :]  # (1, n + 1)
    pmf = binom.pmf(c, n, p)  # (M, n + 1)
    q = (c + alpha) / (n + alpha * p.size)
    return ((pmf * p * np.log(np.where(p > 0, p, 1) / q)).sum(),
            (pmf * q * np.log(q / p)).sum())


def simulated_std(probs, n, alpha, draws=200):
    """The std of both KLs over multinomial histograms (scipy's entropy, not our histogram)."""
    rng = np.random.default_rng(7)
    p = probs.ravel()
    kls = []
    for counts in rng.multinomial(n, p, size=draws):
        q = (counts + alpha) / (n + alpha * p.size)
        kls.append((entropy(p, q), entropy(q, p)))
    return np.std(kls, axis=0, ddof=1)


def test_an_exact_sampler_scores_the_expected_floor():
    d = energy("u3")
    t = grid_target(d.energy, d.regions, 2, cells=20)
    n, alpha = 4000, 0.01
    s = density_scores(sample_grid(t, n, np.random.default_rng(1)), t, d.regions, alpha)
    (tm, mt), (tm_std, mt_std) = expected_kls(t.probs, n, alpha), simulated_std(t.probs, n, alpha)
    assert abs(s.kl_target_model - tm) < 5 * tm_std
    assert abs(s.kl_model_target - mt) < 5 * mt_std
    assert tm < 0.05 and s.region_mass == pytest.approx(t.region_mass, abs=5 * math.sqrt(0.25 / n))


def test_a_one_lobe_sampler_has_that_lobes_mass_and_kl_log_two():
    d = energy("u1")
    t = grid_target(d.energy, d.regions, 2)
    x = sample_grid(t, 50000, np.random.default_rng(2))
    x[:, 0] = np.abs(x[:, 0])  # U1 is mirror-symmetric: the target conditioned on z1 > 0
    s = density_scores(torch.as_tensor(x), t, d.regions)
    assert s.region_mass == pytest.approx((1.0, 0.0)) and s.target_region_mass == t.region_mass
    assert s.kl_model_target == pytest.approx(math.log(2), abs=0.05)  # KL(p|A ‖ p) = log 1/p(A)
    assert s.kl_target_model > 3  # a missed lobe costs its mass × log(p / q_empty)
    both = density_scores(sample_grid(t, 50000, np.random.default_rng(2)), t, d.regions)
    assert both.kl_target_model < 0.05 and both.region_mass == pytest.approx((0.5, 0.5), abs=0.02)


def test_samples_outside_the_window_are_counted_apart():
    t = grid_target(gaussian, cells=10)
    x = sample_grid(t, 1000, np.random.default_rng(3))
    far = np.concatenate([x, np.full((250, 2), 9.0)])
    a, b = density_scores(x, t), density_scores(far, t)
    assert b.outside == pytest.approx(0.2) and b.samples == 1250
    assert (a.kl_target_model, a.kl_model_target) == (b.kl_target_model, b.kl_model_target)
    lost = density_scores(np.full((5, 2), 9.0), t)
    assert lost.outside == 1 and math.isnan(lost.region_mass[0])


def test_bad_inputs():
    t = grid_target(gaussian, cells=4)
    with pytest.raises(ValueError, match="smoothing=0: must be > 0"):
        density_scores(np.zeros((3, 2)), t, smoothing=0)
    with pytest.raises(ValueError, match=r"samples of shape \(3, 3\): expected \(N, 2\)"):
        density_scores(np.zeros((3, 3)), t)
    with pytest.raises(ValueError, match="high must be > low"):
        grid_target(gaussian, low=1, high=1)
