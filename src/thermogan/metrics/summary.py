"""Summaries over seeds: mean and standard error, and how a table prints them."""

from __future__ import annotations

import math

import numpy as np


def mean_se(values: list[float]) -> tuple[float, float]:
    """Mean and standard error (nan for one value); (inf, nan) when any value is not finite."""
    arr = np.asarray(values, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        return math.inf, math.nan
    se = float(arr.std(ddof=1) / math.sqrt(len(arr))) if len(arr) > 1 else math.nan
    return float(arr.mean()), se


def plus_minus(mean: float, se: float, fmt: str) -> str:
    """``mean ± se`` in ``fmt``; the mean alone when the error is undefined."""
    if math.isinf(mean):
        return "inf"
    return f"{mean:{fmt}} ± {se:{fmt}}" if math.isfinite(se) else f"{mean:{fmt}}"


#: Metrics that are fractions and read as percentages
PERCENT = ("high_quality",)


def to_error(mean: float, se: float, unit: str = "") -> str:
    """``mean ± se`` with the error to two significant digits and the mean to the same decimal
    place (0.004533, 0.0004807 -> "0.0045 ± 0.00048"); the mean alone, to four, when the error is
    undefined or zero."""
    if not math.isfinite(mean):
        return f"{mean}{unit}"
    if not math.isfinite(se) or se == 0:
        return f"{mean:.4g}{unit}"
    places = max(1 - math.floor(math.log10(se)), 0)
    return f"{mean:.{places}f} ± {se:.{places}f}{unit}"
