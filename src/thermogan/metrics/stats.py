"""The statistics of a table over seeds: a bootstrap interval of the mean, a test of one row
against a baseline row, and Holm's correction over a table's tests (all from ``scipy.stats``).

- ``bootstrap_ci``: the 95 % percentile bootstrap interval of the mean over seeds (Efron &
  Tibshirani 1993, ch. 13), from a fixed generator so a table is reproducible.
- ``difference_ci``: the same interval for a row's mean minus its baseline's: of the per-seed
  differences where the seeds pair, else of the difference of two means resampled apart.
- ``against``: the two-sided p-value that a row's values and its baseline's come from one
  distribution. Where the seeds of both rows share their initial weights (the runs of seed s
  start from the same G and D), the pairs (row, baseline) of a seed are compared with the
  Wilcoxon signed-rank test (Wilcoxon 1945); otherwise the two samples with the Mann-Whitney U
  test (Mann & Whitney 1947).
- ``holm``: Holm's step-down adjustment (Holm 1979), which keeps the chance of any false
  rejection among a table's m tests at the level: the k-th smallest p is multiplied by m - k + 1,
  and the adjusted values are made non-decreasing.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from scipy import stats

RESAMPLES = 10_000
WILCOXON = "Wilcoxon signed-rank"
MANN_WHITNEY = "Mann-Whitney U"


def bootstrap_ci(values: Sequence[float], level: float = 0.95,
                 seed: int = 0) -> tuple[float, float]:
    """The percentile bootstrap interval of the mean; (nan, nan) for fewer than two values or
    any value not finite; the value itself when all are equal."""
    arr = np.asarray(values, dtype=np.float64)
    if len(arr) < 2 or not np.all(np.isfinite(arr)):
        return math.nan, math.nan
    if np.all(arr == arr[0]):
        return float(arr[0]), float(arr[0])
    ci = stats.bootstrap((arr,), np.mean, n_resamples=RESAMPLES, confidence_level=level,
                         method="percentile", rng=np.random.default_rng(seed)).confidence_interval
    return float(ci.low), float(ci.high)


def aligned(values: dict[int, float], baseline: dict[int, float],
            paired: bool) -> tuple[list[float], list[float]]:
    """A row's values and its baseline's, each by seed, as the tests take them: the seeds both
    have, in order, when ``paired``; else every value of each."""
    if not paired:
        return list(values.values()), list(baseline.values())
    seeds = sorted(set(values) & set(baseline))
    return [values[s] for s in seeds], [baseline[s] for s in seeds]


def difference_ci(values: Sequence[float], baseline: Sequence[float], paired: bool,
                  level: float = 0.95, seed: int = 0) -> tuple[float, float]:
    """The percentile bootstrap interval of mean(values) − mean(baseline): ``bootstrap_ci`` of
    the differences of pair i when ``paired``, else each sample resampled on its own; (nan, nan)
    for fewer than two values on a side or any value not finite."""
    a, b = np.asarray(values, dtype=np.float64), np.asarray(baseline, dtype=np.float64)
    if paired:
        if len(a) != len(b):
            raise ValueError(f"paired difference of {len(a)} values and {len(b)}")
        return bootstrap_ci(a - b, level, seed)
    if min(len(a), len(b)) < 2 or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return math.nan, math.nan
    if np.all(a == a[0]) and np.all(b == b[0]):
        return float(a[0] - b[0]), float(a[0] - b[0])
    ci = stats.bootstrap((a, b), lambda x, y, axis: x.mean(axis) - y.mean(axis),
                         n_resamples=RESAMPLES, confidence_level=level, method="percentile",
                         vectorized=True, rng=np.random.default_rng(seed)).confidence_interval
    return float(ci.low), float(ci.high)


def against(values: Sequence[float], baseline: Sequence[float], paired: bool) -> float:
    """The two-sided p-value of ``values`` against ``baseline``: Wilcoxon signed-rank on the
    differences when ``paired`` (same length, pair i from seed i), else Mann-Whitney U; nan when
    a value is not finite or a sample has fewer than two values; 1 when nothing differs."""
    a, b = np.asarray(values, dtype=np.float64), np.asarray(baseline, dtype=np.float64)
    if min(len(a), len(b)) < 2 or not (np.all(np.isfinite(a)) and np.all(np.isfinite(b))):
        return math.nan
    if paired:
        if len(a) != len(b):
            raise ValueError(f"paired test of {len(a)} values against {len(b)}")
        if np.all(a == b):
            return 1.0
        return float(stats.wilcoxon(a, b).pvalue)
    if np.all(a == a[0]) and np.all(b == a[0]):
        return 1.0
    return float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm's adjusted p-values, in the given order; a nan (no test) stays nan and does not
    count among the m tests."""
    p = np.asarray(pvalues, dtype=np.float64)
    tested = np.flatnonzero(np.isfinite(p))
    order = tested[np.argsort(p[tested], kind="stable")]
    m, adjusted, running = len(order), p.copy(), 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * p[i]))
        adjusted[i] = running
    return adjusted.tolist()
