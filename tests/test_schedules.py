"""Schedules at exact values, their serialisation, and their errors."""

import dataclasses
import math

import pytest

from thermogan.errors import ConfigError
from thermogan.schedules import (
    NMA,
    OA,
    SCHEDULES,
    Constant,
    DecayingTriangle,
    ExponentialApproach,
    Geometric,
    Linear,
    LinearToZero,
    SineDecay,
    Stage,
    Stages,
    schedule_from_dict,
)


def test_constant_and_linear():
    assert Constant(0.3)(0) == Constant(0.3)(10**9) == 0.3
    lin = Linear(start=1.0, end=0.0, steps=4)
    assert [lin(t) for t in range(6)] == [1.0, 0.75, 0.5, 0.25, 0.0, 0.0]


def test_geometric_both_ends_are_trained():
    g = Geometric(start=0.1, end=10.0, levels=20, steps=5)
    assert g(0) == pytest.approx(0.1) and g(4) == pytest.approx(0.1)
    assert g(5) == pytest.approx(0.1 * 100 ** (1 / 19))
    assert g(19 * 5) == pytest.approx(10.0) and g(10**6) == pytest.approx(10.0)
    assert g.level(99) == 19 and g.total_steps == 100


def test_geometric_literal_is_the_papers_off_by_one():
    g = Geometric(start=0.1, end=10.0, levels=20, steps=5, literal=True)
    alpha = 100 ** (1 / 20)
    assert g(0) == pytest.approx(0.1)
    assert g(99) == pytest.approx(0.1 * alpha**19)  # the last level trained is below β_K
    assert g(99) < 10.0 / alpha * 1.0000001


def test_sine_decay():
    s = SineDecay(horizon=100)
    assert s(0) == 1.0
    assert s(50) == pytest.approx(1 - math.sin(math.pi / 4))
    assert s(100) == 0.0 and s(500) == 0.0


def test_exponential_approach():
    e = ExponentialApproach(initial=1.0, target=3.0, time_constant=3.0)
    assert e(0) == 1.0
    assert e(3) == pytest.approx(3.0 - 2.0 / math.e)
    assert e(10**4) == pytest.approx(3.0)
    assert ExponentialApproach(1.0, 3.0, 3.0, dt=0.5)(6) == pytest.approx(e(3))


def test_linear_to_zero_pma_and_nma():
    pma = LinearToZero(bound=1.0, total_steps=1000)
    assert pma(0) == 1.0 and pma(400) == pytest.approx(0.5)
    assert pma(800) == 0.0 and pma(1000) == 0.0
    nma = LinearToZero(bound=-2.0, total_steps=1000)
    assert nma(200) == pytest.approx(-1.5)


def test_decaying_triangle():
    oa = DecayingTriangle(bound=1.0, half_period=10, total_steps=100)
    assert oa(0) == 1.0
    assert oa(5) == pytest.approx(0.5 * 1.0 + 0.5 * -0.9)  # halfway between peaks +1 and −0.9
    assert oa(10) == pytest.approx(-0.9)
    assert oa(20) == pytest.approx(0.8)
    assert oa(95) == pytest.approx(0.5 * -0.1 + 0.5 * 0.0)
    assert oa(100) == 0.0 and oa(1000) == 0.0


def test_stages_run_on_their_own_clock():
    st = Stages((Stage(Constant(0.0), 10, "uniform"),
                 Stage(Linear(0.0, 1.0, 10), 10, "cool"),
                 Stage(Constant(5.0), None, "data")))
    assert st.starts() == [0, 10, 20]
    assert [st.stage(t) for t in (0, 9, 10, 19, 20, 10**6)] == [0, 0, 1, 1, 2, 2]
    assert st(9) == 0.0 and st(15) == pytest.approx(0.5) and st(25) == 5.0


def test_variational_annealing_presets_in_our_sign():
    """The authors' code schedules l(t) with λ = −l (docs/variational.md): PMA
    (l = B(1 − t/0.8N) > 0) broadens first, NMA sharpens first, OA is their
    zigzag through (−1)^k B (1 − kS/N)."""
    n = 150_000
    pma, nma = schedule_from_dict({"kind": "pma", "total_steps": n}), NMA(n, bound=2.0)
    assert [pma(t) for t in (0, 60_000, 120_000, 149_999)] == pytest.approx([-1, -0.5, 0, 0])
    assert [nma(t) for t in (0, 60_000, 120_000)] == pytest.approx([2, 1, 0])
    oa = OA(n)  # the code's defaults: B = 1, S = 10⁴
    peaks = [oa(k * 10_000) for k in range(4)]
    assert peaks == pytest.approx([-1, 1 - 1 / 15, -(1 - 2 / 15), 1 - 3 / 15])
    assert oa(5_000) == pytest.approx((peaks[0] + peaks[1]) / 2) and oa(n) == 0.0
    with pytest.raises(ValueError, match="magnitude"):
        OA(n, bound=-1.0)


EXAMPLES = {
    "constant": {"value": 2.0},
    "linear": {"start": 1.0, "end": 0.0, "steps": 10},
    "geometric": {"start": 0.1, "end": 10.0, "levels": 3, "steps": 4},
    "sine_decay": {"horizon": 7},
    "exponential_approach": {"initial": 1.0, "target": 3.0, "time_constant": 3.0},
    "hold": {"horizon": 10, "value": 0.5, "after": 0.0},
    "linear_to_zero": {"bound": 1.0, "total_steps": 50},
    "decaying_triangle": {"bound": 1.0, "half_period": 3, "total_steps": 30},
    "pma": {"total_steps": 50},
    "nma": {"total_steps": 50, "bound": 0.5},
    "oa": {"total_steps": 30, "half_period": 3},
    "stages": {"parts": [{"steps": 5, "schedule": {"kind": "constant", "value": 1.0}},
                         {"schedule": {"kind": "linear", "start": 1.0, "end": 0.0, "steps": 4}}]},
}


@pytest.mark.parametrize("kind", sorted(SCHEDULES))
def test_every_schedule_round_trips_and_is_pure(kind):
    sched = schedule_from_dict({"kind": kind, **EXAMPLES[kind]})
    again = schedule_from_dict(sched.to_dict())
    assert again == sched
    values = [sched(t) for t in range(40)]
    assert values == [again(t) for t in range(40)] == [sched(t) for t in range(40)]
    assert all(isinstance(v, float) for v in values)
    with pytest.raises(dataclasses.FrozenInstanceError):
        sched.__setattr__("kind", "x")  # frozen


#: More shapes for the bounds: other signs and orders, a triangle longer than its run
BOUNDS_EXAMPLES = [*({"kind": k, **v} for k, v in EXAMPLES.items()),
                   {"kind": "linear", "start": -2.0, "end": 3.0, "steps": 7},
                   {"kind": "geometric", "start": 9.0, "end": 0.5, "levels": 4, "steps": 3},
                   {"kind": "geometric", "start": 0.1, "end": 10.0, "levels": 3, "steps": 4,
                    "literal": True},
                   {"kind": "sine_decay", "horizon": 9, "scale": -2.0},
                   {"kind": "exponential_approach", "initial": 5.0, "target": -1.0,
                    "time_constant": 2.0},
                   {"kind": "hold", "horizon": 0, "value": 7.0, "after": 1.0},
                   {"kind": "linear_to_zero", "bound": -3.0, "total_steps": 20},
                   {"kind": "decaying_triangle", "bound": 2.0, "half_period": 40,
                    "total_steps": 30}]


@pytest.mark.parametrize("spec", BOUNDS_EXAMPLES, ids=lambda s: s["kind"])
def test_bounds_are_the_least_and_greatest_value_taken(spec):
    """Against the values at every step (each of these schedules ends within 200 steps)."""
    sched = schedule_from_dict(spec)
    values = [sched(t) for t in range(200)]
    low, high = sched.bounds()
    assert low == pytest.approx(min(values), abs=1e-12)
    assert high == pytest.approx(max(values), abs=1e-12)


def test_check_range_names_the_key_and_the_value():
    from thermogan.schedules import check_range

    lr = schedule_from_dict({"kind": "linear", "start": 1.0, "end": -1.0, "steps": 10})
    with pytest.raises(ConfigError, match=r"optim.lr_decay takes the value -1: must be >= 0"):
        check_range(lr, "optim.lr_decay", minimum=0.0)
    with pytest.raises(ConfigError, match="must be > 0"):
        check_range(schedule_from_dict(0.0), "beta", above=0.0)
    assert check_range(lr, "x", minimum=-1.0) is lr


def test_bare_number_is_constant():
    assert schedule_from_dict(0.5) == Constant(0.5)


@pytest.mark.parametrize("spec, words", [
    ({"kind": "linaer", "start": 1, "end": 0, "steps": 3}, ["'linaer'", "'linear'"]),
    ({"kind": "linear", "start": 1, "ed": 0, "steps": 3}, ["lr.ed", "lr.end"]),
    ({"kind": "linear", "start": 1, "end": 0, "steps": -3}, ["lr.steps=-3", "> 0"]),
    ({"kind": "linear", "start": 1, "end": 0, "steps": 2.5}, ["lr.steps=2.5", "integer"]),
    ({"kind": "linear", "start": "a", "end": 0, "steps": 2}, ["lr.start='a'", "number"]),
    ({"kind": "linear", "start": 1}, ["missing", "end", "steps"]),
    ({"kind": "geometric", "start": 0, "end": 1, "levels": 2, "steps": 1}, ["lr.start=0"]),
    ({"kind": "stages", "parts": [{"steps": None, "schedule": 1.0}, {"schedule": 2.0}]},
     ["parts[0].steps", "open-ended"]),
])
def test_bad_specs_name_the_key(spec, words):
    with pytest.raises(ConfigError) as info:
        schedule_from_dict(spec, "lr")
    for word in words:
        assert word in str(info.value)


def test_hold_keeps_its_value_until_the_horizon_then_the_after_value():
    held = schedule_from_dict({"kind": "hold", "horizon": 3, "value": 0.1, "after": math.inf})
    assert [held(t) for t in range(5)] == [0.1, 0.1, 0.1, math.inf, math.inf]
    assert schedule_from_dict({"kind": "hold", "horizon": 0})(0) == 0.0  # clean from the start
    with pytest.raises(ConfigError, match="horizon=-1"):
        schedule_from_dict({"kind": "hold", "horizon": -1})
