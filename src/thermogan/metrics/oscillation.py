"""How much a metric oscillates once training has settled (Mehrjou et al., *Nonstationary GANs*,
Fig. 5): low-pass filter the curve, find its knee, average the max-to-min swings after it.

The paper leaves the procedure open (it names no filter, knee or window); our choices:

- ``lowpass``: a Butterworth filter of order 2 run forwards and backwards
  (``scipy.signal.filtfilt``, so without phase lag); ``cutoff`` is in cycles per sample of the
  curve.
- ``knee_index``: from the curve's maximum on (a GAN's score first worsens while G leaves its
  initialisation), the point farthest below the chord from that maximum to the last point, both
  axes scaled to [0, 1] (the Kneedle criterion for a decreasing convex curve).
- ``mean_swing``: the mean absolute difference between consecutive local extrema of the filtered
  curve in the window after the knee, i.e. the mean max-to-min amplitude of its oscillations
  (peak-to-peak of the window when it holds fewer than two extrema). The window's straight-line
  trend is removed first, so a curve that is still drifting (a short run) is not read as one big
  oscillation; on a settled, horizontal curve this changes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import signal


def lowpass(values: np.ndarray, cutoff: float = 0.1, order: int = 2) -> np.ndarray:
    """Zero-phase Butterworth low-pass of a uniformly sampled curve; ``cutoff`` in (0, 0.5)."""
    values = np.asarray(values, dtype=np.float64)
    if not 0 < cutoff < 0.5:
        raise ValueError(f"cutoff={cutoff!r}: must be in (0, 0.5) cycles per sample")
    b, a = signal.butter(order, cutoff, fs=1.0)
    if len(values) <= 3 * max(len(a), len(b)):
        raise ValueError(f"a curve of {len(values)} points is too short to filter; "
                         "evaluate more often or train longer")
    return signal.filtfilt(b, a, values)


def knee_index(values: np.ndarray) -> int:
    """Index of the knee: after the maximum, the point farthest below the normalised chord."""
    values = np.asarray(values, dtype=np.float64)
    start = int(np.argmax(values))
    tail = values[start:]
    if len(tail) < 3 or np.ptp(tail) == 0:
        return start
    x = np.linspace(0.0, 1.0, len(tail))
    y = (tail - tail.min()) / np.ptp(tail)
    chord = y[0] + (y[-1] - y[0]) * x
    return start + int(np.argmax(chord - y))


def mean_swing(values: np.ndarray) -> float:
    """Mean |difference| between consecutive local extrema; peak-to-peak with fewer than two."""
    values = np.asarray(values, dtype=np.float64)
    extrema = np.sort(np.concatenate([signal.find_peaks(values)[0],
                                      signal.find_peaks(-values)[0]]))
    if len(extrema) < 2:
        return float(np.ptp(values)) if len(values) else 0.0
    return float(np.mean(np.abs(np.diff(values[extrema]))))


@dataclass(frozen=True)
class Oscillation:
    filtered: np.ndarray  # the low-passed curve
    knee_step: float  # step of the knee
    window: tuple[float, float]  # steps [from, to] over which the swing is measured
    amplitude: float  # mean max-to-min swing of the filtered curve in the window
    level: float  # mean of the filtered curve in the window


def oscillation(steps: np.ndarray, values: np.ndarray, cutoff: float = 0.1,
                window: float | None = None) -> Oscillation:
    """Filter, find the knee, and measure the swing over ``window`` steps after it (None: to
    the end of the curve)."""
    steps = np.asarray(steps, dtype=np.float64)
    filtered = lowpass(values, cutoff)
    knee = knee_index(filtered)
    end = steps[knee] + window if window is not None else steps[-1]
    inside = (steps >= steps[knee]) & (steps <= end)
    part, at = filtered[inside], steps[inside]
    if len(part) > 1:
        detrended = part - np.polyval(np.polyfit(at, part, 1), at)
    else:
        detrended = part - part.mean()
    window = (float(steps[knee]), float(min(end, steps[-1])))
    return Oscillation(filtered, float(steps[knee]), window, mean_swing(detrended),
                       float(part.mean()))
