"""tiny-GAN: the ODE against its closed form and the paper's Fig. 1 numbers, and the SGD view."""

import math

import numpy as np
import pytest

from thermogan.dynamics.sgd import sgd_trajectory
from thermogan.dynamics.tinygan import (
    TinyGAN,
    closed_form,
    derivative,
    numeric_amplitude,
    steady_amplitude,
)


def half_range(x):
    return (x.max() - x.min()) / 2, (x.max() + x.min()) / 2


@pytest.mark.parametrize("T", [1.0, 3.0, 30.0])
def test_numeric_and_closed_form_agree(T):
    t, states = TinyGAN(T=T).solve((1.0, 0.0, 1.0), 50.0)
    assert t[-1] == 50.0
    np.testing.assert_allclose(states, closed_form(t, T), atol=1e-6, rtol=0)


def test_closed_form_solves_the_equations():
    # independent check of the derivation: finite-difference derivatives satisfy eq. 9
    T, h = 3.0, 1e-5
    t = np.linspace(0.5, 20, 50)
    s, plus, minus = closed_form(t, T), closed_form(t + h, T), closed_form(t - h, T)
    ds = (plus - minus) / (2 * h)
    np.testing.assert_allclose(ds[:, 0], -s[:, 1], atol=1e-7)
    np.testing.assert_allclose(ds[:, 1], s[:, 0] - s[:, 2], atol=1e-7)
    np.testing.assert_allclose(closed_form(np.zeros(1), T), [[1.0, 0.0, 1.0]], atol=1e-12)


def test_case_a_autonomous_oscillates_about_3_with_amplitude_sqrt8():
    t, s = TinyGAN(annealing=False).solve((1.0, 2.0, 3.0), 4 * math.pi)
    # (θ − 3)'' = −(θ − 3) with θ(0) − 3 = −2, θ'(0) = −ψ(0) = −2
    np.testing.assert_allclose(s[:, 0], 3 - 2 * np.cos(t) - 2 * np.sin(t), atol=1e-8)
    amplitude, centre = half_range(s[:, 0])
    assert round(amplitude, 2) == 2.83 and centre == pytest.approx(3.0, abs=1e-3)
    assert np.all(s[:, 2] == 3.0)


@pytest.mark.parametrize("T, amplitude", [(3.0, 0.632), (30.0, 0.0666)])
def test_cases_c_and_d_amplitudes_and_centre(T, amplitude):
    system = TinyGAN(T=T)
    assert steady_amplitude(T) == pytest.approx(amplitude, abs=5e-4 if T == 3 else 5e-5)
    assert numeric_amplitude(system, (1.0, 0.0, 1.0)) == pytest.approx(steady_amplitude(T),
                                                                      rel=1e-5)
    t, s = system.solve((1.0, 0.0, 1.0), 12 * T + 4 * math.pi)
    late = s[t > 12 * T]
    assert half_range(late[:, 0])[1] == pytest.approx(3.0, abs=1e-3)  # θ centred on α_r
    assert half_range(late[:, 1])[1] == pytest.approx(0.0, abs=1e-3)


def test_case_b_coupled_settles_on_the_wrong_equilibrium():
    t, s = TinyGAN(lam=1, T=3.0).solve((1.0, 0.0, 1.0), 60 + 2 * math.pi)
    late = s[t > 60]
    centres = [half_range(late[:, i])[1] for i in range(3)]
    assert centres == pytest.approx([2.0, 0.0, 2.0], abs=0.02)
    assert half_range(late[:, 0])[0] > 0.1  # still oscillating


def test_eq8_as_printed_diverges():
    t, s = TinyGAN(lam=1, T=3.0, coupling_sign=-1).solve((1.0, 0.0, 1.0), 40.0)
    # θ' − α' = −drift: θ − α only follows the annealing, so ψ' = θ − α never changes sign
    np.testing.assert_allclose(s[:, 0] - s[:, 2], -2 * (1 - np.exp(-t / 3)), atol=1e-6)
    assert abs(s[-1, 1]) > 50  # ψ grows without bound


def test_js_objective_and_callables():
    assert derivative("js")(0.0) == pytest.approx(0.5)
    f = lambda y: -math.log1p(math.exp(-y))  # noqa: E731
    for y in (-3.0, 0.0, 2.0):
        assert derivative(f)(y) == pytest.approx(derivative("js")(y), rel=1e-8)
    a = TinyGAN(f="js", T=3.0).solve((1.0, 0.0, 1.0), 10.0)[1]
    b = TinyGAN(f=f, T=3.0).solve((1.0, 0.0, 1.0), 10.0)[1]
    np.testing.assert_allclose(a, b, atol=1e-6)
    with pytest.raises(ValueError, match="lam=2"):
        TinyGAN(lam=2)
    with pytest.raises(ValueError, match="f='hinge'"):
        TinyGAN(f="hinge")


@pytest.mark.parametrize("f", ["linear", "js"])
def test_sgd_through_the_trainer_converges_to_the_ode_linearly_in_eta(f):
    t_end, errors = 10.0, []
    system = TinyGAN(f=f, T=3.0)
    for eta in (0.02, 0.01, 0.005):
        t, states = sgd_trajectory(eta, t_end, T=3.0, f=f)
        _, exact = system.solve((1.0, 0.0, 1.0), t_end, t_eval=t)
        errors.append(np.abs(states - exact).max())
    assert errors[0] > errors[1] > errors[2]
    for coarse, fine in zip(errors, errors[1:]):
        assert fine / coarse <= 0.55  # halving η at least halves the error (up to 10 %)
    assert errors[-1] < 0.01


def test_figure1_panels_explain_themselves(tmp_path, monkeypatch):
    """Fig. 1 as `thermogan dynamics figure1` writes it: a title, a y label on every panel,
    legends off the curves, subscripts in mathtext, nothing overlapping or cut off."""
    from helpers import (
        assert_figure,
        assert_laid_out,
        assert_legends_outside,
        capture_figures,
        panels_of,
    )

    from thermogan.dynamics.experiments import figure1

    saved = capture_figures(monkeypatch)
    *singles, combined = figure1(tmp_path)
    assert_figure(combined, min_size=(1000, 1200), panels=8, saved=saved)
    fig = saved[combined.resolve()]
    assert "Fig. 1" in fig.get_suptitle()
    assert panels_of(fig)[0].get_title() == r"(a) autonomous GAN, α = $\alpha_{r}$"
    for path in (singles[0], combined):  # the other single panels are drawn alike
        fig = saved[path.resolve()]
        assert fig.get_suptitle()
        assert all(ax.get_ylabel() for ax in panels_of(fig))
        assert_legends_outside(fig)
        assert_laid_out(fig, [*panels_of(fig), fig._suptitle])
