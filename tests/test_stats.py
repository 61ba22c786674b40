"""The statistics layer (``metrics/stats.py``): Holm's adjustment by hand, the tests' exact
p-values in cases counted by hand, and the bootstrap interval's coverage."""

import math

import numpy as np
import pytest

from thermogan.metrics import stats


def test_holm_multiplies_the_kth_smallest_by_m_minus_k_and_keeps_the_order():
    # sorted: 0.01 * 3 = 0.03, 0.03 * 2 = 0.06, 0.04 * 1 = 0.04 -> raised to 0.06; nan: no test
    adjusted = stats.holm([0.04, 0.01, math.nan, 0.03])
    assert adjusted[:2] == pytest.approx([0.06, 0.03]) and adjusted[3] == pytest.approx(0.06)
    assert math.isnan(adjusted[2])
    assert stats.holm([0.5, 0.9]) == [1.0, 1.0]  # capped at 1


def test_the_tests_give_the_exact_p_values_counted_by_hand():
    # six pairs all better: 2 of the 2^6 sign patterns are as extreme (two-sided)
    assert stats.against([1, 2, 3, 4, 5, 6], [0] * 6, paired=True) == pytest.approx(2 / 64)
    # two samples of three, fully separated: 2 of the C(6, 3) = 20 orderings
    assert stats.against([4, 5, 6], [1, 2, 3], paired=False) == pytest.approx(2 / 20)
    assert stats.against([1, 1], [1, 1], paired=True) == 1.0
    assert math.isnan(stats.against([1, math.inf], [1, 2], paired=False))
    assert math.isnan(stats.against([1], [2], paired=False))


def test_the_bootstrap_interval_covers_the_mean_about_95_percent_of_the_time():
    rng = np.random.default_rng(1)
    hits = 0
    for seed in range(200):
        lo, hi = stats.bootstrap_ci(rng.normal(3.0, 2.0, size=20), seed=seed)
        hits += lo <= 3.0 <= hi
    # the percentile interval runs a little short at n = 20; 200 draws: SE of a rate ~ 1.6 %
    assert 0.88 <= hits / 200 <= 0.99
    assert stats.bootstrap_ci([2.0, 2.0, 2.0]) == (2.0, 2.0)
    assert all(math.isnan(v) for v in stats.bootstrap_ci([1.0]))


def test_the_difference_interval_pairs_by_seed_or_resamples_each_side():
    a, b = [3.0, 5.0, 4.0, 6.0], [1.0, 2.0, 2.5, 3.0]
    # paired: the interval of the per-seed differences' mean
    assert stats.difference_ci(a, b, paired=True) == stats.bootstrap_ci(np.subtract(a, b))
    with pytest.raises(ValueError, match="paired difference of 4 values and 3"):
        stats.difference_ci(a, b[:3], paired=True)
    assert stats.difference_ci([2.0, 2.0], [1.0, 1.0, 1.0], paired=False) == (1.0, 1.0)
    assert all(math.isnan(v) for v in stats.difference_ci([1.0, math.inf], b, paired=False))
    # apart: covers the true difference (3 − 1) about 95 % of the time, and its width is
    # 2 · 1.96 · sqrt(σa²/na + σb²/nb) for large samples
    rng = np.random.default_rng(2)
    hits = 0
    for seed in range(100):
        lo, hi = stats.difference_ci(rng.normal(3.0, 2.0, 20), rng.normal(1.0, 1.0, 15),
                                     paired=False, seed=seed)
        hits += lo <= 2.0 <= hi
    assert 0.85 <= hits / 100 <= 1.0  # the percentile interval runs a little short; SE ~ 2 %
    lo, hi = stats.difference_ci(rng.normal(3.0, 2.0, 4000), rng.normal(1.0, 1.0, 1000),
                                 paired=False)
    assert hi - lo == pytest.approx(2 * 1.96 * math.sqrt(4 / 4000 + 1 / 1000), rel=0.1)
    assert lo < 2.0 < hi


def test_a_row_and_its_baseline_align_by_seed_when_paired():
    row, base = {0: 1.0, 2: 3.0, 1: 2.0}, {1: 5.0, 0: 4.0, 3: 6.0}
    assert stats.aligned(row, base, paired=True) == ([1.0, 2.0], [4.0, 5.0])  # seeds 0 and 1
    assert stats.aligned(row, base, paired=False) == ([1.0, 3.0, 2.0], [5.0, 4.0, 6.0])
