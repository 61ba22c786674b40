"""The Fig. 5 measurement: low-pass filter, knee and mean swing, against closed forms."""

import numpy as np
import pytest

from thermogan.metrics.oscillation import knee_index, lowpass, mean_swing, oscillation


def butterworth_gain(f, cutoff, order=2):
    """|H|² of the digital Butterworth filter (bilinear transform), the gain of filtfilt."""
    return 1.0 / (1.0 + (np.tan(np.pi * f) / np.tan(np.pi * cutoff)) ** (2 * order))


@pytest.mark.parametrize("f", [0.01, 0.05, 0.1, 0.2])
def test_lowpass_gain_matches_the_butterworth_response(f):
    t = np.arange(4000)
    filtered = lowpass(np.sin(2 * np.pi * f * t), cutoff=0.1)
    middle = slice(1000, 3000)  # away from the ends
    basis = np.stack([np.sin(2 * np.pi * f * t[middle]), np.cos(2 * np.pi * f * t[middle])], 1)
    coef = np.linalg.lstsq(basis, filtered[middle], rcond=None)[0]
    gain = np.hypot(*coef)  # amplitude of the filtered sine (samples need not hit its peaks)
    assert gain == pytest.approx(butterworth_gain(f, 0.1), rel=0.02, abs=1e-3)


def test_lowpass_keeps_constants_and_rejects_bad_input():
    assert np.allclose(lowpass(np.full(100, 3.5)), 3.5)
    with pytest.raises(ValueError, match="cutoff"):
        lowpass(np.zeros(100), cutoff=0.6)
    with pytest.raises(ValueError, match="too short"):
        lowpass(np.zeros(5))


def test_knee_of_a_broken_line_is_its_corner():
    t = np.arange(200.0)
    curve = np.where(t < 60, 100 - t, 40.0)
    assert knee_index(curve) == 60


def test_knee_is_searched_after_the_maximum():
    t = np.arange(300.0)
    rise = np.minimum(t, 20) * 5  # worsens for 20 points first
    curve = np.where(t < 20, rise, np.where(t < 120, 100 - (t - 20) * 0.6, 40.0))
    assert knee_index(curve) == 120


def test_mean_swing_of_a_sine_is_twice_its_amplitude():
    t = np.linspace(0, 10 * 2 * np.pi, 2001)
    assert mean_swing(1.5 * np.sin(t)) == pytest.approx(3.0, rel=1e-4)
    assert mean_swing(np.linspace(0, 2, 10)) == pytest.approx(2.0)  # no extremum: peak-to-peak


def test_oscillation_recovers_a_settled_oscillation_under_noise():
    rng = np.random.default_rng(0)
    steps = np.arange(0, 40000, 100.0)  # every 100 steps, as the paper
    trend = 40 + 300 * np.exp(-steps / 3000)
    slow = 4.0 * np.sin(2 * np.pi * steps / 5000)  # amplitude 4: swing 8
    noisy = trend + slow + rng.normal(0, 3, len(steps))  # fast noise of the FID estimate
    result = oscillation(steps, noisy, cutoff=0.05)
    assert 5000 <= result.knee_step <= 15000
    assert result.amplitude == pytest.approx(8.0, rel=0.15)
    assert result.level == pytest.approx(40, abs=3)
    windowed = oscillation(steps, noisy, cutoff=0.05, window=10000)
    assert windowed.window[1] - windowed.window[0] == pytest.approx(10000)


def test_a_drift_after_the_knee_is_not_an_oscillation():
    steps = np.arange(0, 20000, 100.0)
    drifting = np.where(steps < 5000, 1000 - 0.15 * steps, 250 - 0.005 * (steps - 5000))
    wobble = 2.0 * np.sin(2 * np.pi * steps / 3000)
    result = oscillation(steps, drifting + wobble, cutoff=0.1)
    assert result.knee_step == pytest.approx(5000, abs=300)
    assert result.amplitude == pytest.approx(4.0, rel=0.15)  # the wobble, not the 75-unit drift
