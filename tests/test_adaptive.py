"""The ADA-style adaptive temperature (tempering/control.py, ``Adaptive``): its update rule, its
convergence on a synthetic D whose certainty falls with the level, its mappings and ceiling, and
its use from a config (instance noise, β-GAN's heat, variational annealing's λ), with an exact
resume."""

import copy
import math

import pytest
import torch
from conftest import TINY
from helpers import straight_and_resumed

from thermogan.data.batch import Batch
from thermogan.errors import ConfigError
from thermogan.experiment import build, config
from thermogan.schedules import Linear
from thermogan.step import DStep
from thermogan.tempering.control import Adaptive, level_source
from thermogan.train.checkpoint import load_checkpoint, save_checkpoint


def _record(positive: int, batch: int) -> DStep:
    """A D record whose real logits have ``positive`` of ``batch`` signs positive."""
    logits = -torch.ones(batch)
    logits[:positive] = 1.0
    return DStep(Batch(torch.zeros(batch, 2)), real_logits=logits)


def test_every_interval_the_heat_moves_by_delta_towards_the_target():
    c = Adaptive(hot=1.0, interval=4, images=1024, start=0.5)  # Δ = 64·4/1024 = 0.25
    for _ in range(3):
        c.observe(_record(64, 64))  # r = 1 > 0.6
    assert float(c.heat) == 0.5 and math.isnan(float(c.last_r))  # nothing before the 4th
    c.observe(_record(64, 64))
    assert float(c.heat) == 0.75 and float(c.last_r) == 1.0  # D sure: hotter
    for _ in range(4):
        c.observe(_record(16, 64))  # r = (16 − 48)/64 = −0.5 < 0.6
    assert float(c.heat) == 0.5 and float(c.last_r) == -0.5  # D unsure: colder
    for _ in range(40):
        c.observe(_record(0, 64))
    assert float(c.heat) == 0.0  # clamped at the cold end
    assert c.describe() == {"heat_u": 0.0, "sign_r": -1.0, "sign_target": 0.6}


def test_the_heat_settles_where_a_synthetic_d_is_as_sure_as_the_target():
    """D's certainty E[sign D(real)] = 0.9 − 1.2·σ falls with the noise σ = level: the target 0.6
    is met at σ* = 0.25. Signs are drawn at random (binomial), and the level's mean over the
    second half of the run must sit at σ* within a few standard errors of the oscillation."""
    gen = torch.Generator().manual_seed(0)
    c = Adaptive(hot=1.0, cold=0.0, target=0.6, interval=4, images=256 * 4 * 100)  # Δ = 0.01
    levels = []
    for step in range(8000):
        level = c(step)
        r = 0.9 - 1.2 * level
        positive = int(torch.binomial(torch.tensor(256.0), torch.tensor((1 + r) / 2),
                                      generator=gen))
        c.observe(_record(positive, 256))
        levels.append(level)
    tail = torch.tensor(levels[4000:], dtype=torch.float64)
    assert abs(float(tail.mean()) - 0.25) < 0.02
    assert float(tail.std()) < 0.05  # it hovers near σ*, not swinging across [0, 1]
    assert levels[0] == 0.0 and max(levels[:100]) > 0  # it started cold and heated up


def test_linear_and_log_mappings_and_the_ceiling():
    lin = Adaptive(hot=0.5, cold=0.1, start=0.5)
    assert lin(0) == pytest.approx(0.3)
    beta = Adaptive(hot=0.1, cold=1000.0, scale="log", start=0.5)
    assert beta(0) == pytest.approx(math.sqrt(0.1 * 1000.0))  # geometric midpoint
    assert beta.level_at(0.0) == pytest.approx(1000.0) and beta.level_at(1.0) == pytest.approx(0.1)
    # a ceiling holds the level on its cold side: σ never above it, β never below it
    capped = Adaptive(hot=1.0, start=1.0, ceiling=Linear(0.5, 0.0, 100))
    assert capped(0) == pytest.approx(0.5) and capped(100) == 0.0
    floored = Adaptive(hot=0.1, cold=1000.0, scale="log", start=1.0,
                       ceiling=Linear(1.0, 1000.0, 100))
    assert floored(0) == pytest.approx(1.0) and floored(100) == pytest.approx(1000.0)


@pytest.mark.parametrize("spec, words", [
    ({"kind": "adaptive", "hot": 0.5, "cold": 0.5}, "nothing to adapt"),
    ({"kind": "adaptive", "hot": 0.5, "target": 1.5}, "target=1.5"),
    ({"kind": "adaptive", "hot": 0.5, "scale": "log"}, "scale=log needs hot > 0 and cold > 0"),
    ({"kind": "adaptive", "hot": 0.5, "interval": 0}, "interval=0"),
    ({"kind": "adaptive", "hot": 0.5, "intervall": 4}, "did you mean 'tempering.std.interval'"),
    ({"kind": "adaptive", "hot": 0.5, "ceiling": {"kind": "lineer"}}, "linear"),
])
def test_bad_options_are_refused_with_the_reason(spec, words):
    with pytest.raises(ConfigError, match=words):
        level_source(spec, "tempering.std")


ADAPTIVE_NOISE = ("tempering={kind: instance_noise, std: {kind: adaptive, hot: 0.5, "
                  "images: 20000, start: 0.5}}")
ADAPTIVE_BETA = ("tempering={kind: heat, beta: {kind: adaptive, hot: 0.1, cold: 2500, scale: log, "
                 "images: 20000, start: 0.5}}")


ADAPTIVE_VA = ("regulariser={kind: score, weight: {kind: adaptive, hot: 0.5, images: 20000, "
               "start: 0.5}}")  # variational annealing's λ


@pytest.mark.parametrize("extra", [[ADAPTIVE_NOISE], ["data.box=[-1, 1]", ADAPTIVE_BETA],
                                   [ADAPTIVE_VA]], ids=["instance_noise", "heat", "va_lambda"])
def test_from_a_config_it_adapts_logs_and_resumes_exactly(extra, tmp_path):
    cfg = config.from_dict(config.apply_overrides(copy.deepcopy(TINY), extra))

    def make():
        return build.build_trainer(cfg)

    straight, resumed = straight_and_resumed(make, steps=40, split=17)
    (controller,) = straight.controllers
    assert float(controller.heat) != 0.5 and not math.isnan(float(controller.last_r))  # moved
    assert set(straight.describe()) >= {"heat_u", "sign_r"}
    for part in ("temperings", "term_levels"):
        for a, b in zip(straight.state_dict()[part].values(),
                        resumed.state_dict()[part].values()):
            assert torch.equal(a, b) if isinstance(a, torch.Tensor) else a == b
    # its state survives a checkpoint read back without unpickling objects
    save_checkpoint({**resumed.state_dict(), "config": cfg.to_dict()}, tmp_path / "c.pt")
    again = make()
    again.load_state_dict(load_checkpoint(tmp_path / "c.pt"))
    (restored,) = again.controllers
    assert restored.get_extra_state() == controller.get_extra_state()
    assert float(restored.heat) == float(controller.heat)
    for p, q in zip(straight.G.parameters(), resumed.G.parameters()):
        assert torch.equal(p, q)


@pytest.mark.figures
def test_a_run_draws_its_heat_and_d_certainty(tiny_config, tmp_path, monkeypatch):
    from helpers import assert_figure, capture_figures

    from thermogan.cli import main

    saved = capture_figures(monkeypatch)
    run = tmp_path / "run"
    assert main(["train", str(tiny_config), "--out", str(run), "train.steps=100",
                 "train.log_every=10", ADAPTIVE_NOISE]) == 0
    assert_figure(run / "figures" / "adaptive.png", panels=2, saved=saved)
    lines = (run / "metrics.jsonl").read_text().splitlines()
    assert all('"heat_u"' in line and '"noise_std"' in line for line in lines)


def test_each_tempering_maps_the_heat_onto_its_own_ends():
    """Left out of the config, hot and cold are the tempering's own: β-GAN's log β from its cold
    end (here derived from the data, 1/(2·σ_data)²) to β_1, instance noise's σ from 0 to its start,
    the lens's λ from 0 to 1."""
    cfg = config.from_dict(config.apply_overrides(copy.deepcopy(TINY), ["data.box=[-1, 1]"]))
    data = build.build_data(cfg)
    cases = [("tempering={kind: heat, cold_std: 2, beta: {kind: adaptive}}",
              1 / (2 * data.std) ** 2, 0.1),
             ("tempering={kind: instance_noise, std_start: 0.3, std: {kind: adaptive}}", 0.0, 0.3),
             ("tempering={kind: lens, width: 4, blocks: 1, weight: {kind: adaptive}}", 0.0, 1.0)]
    for override, cold, hot in cases:
        cfg = config.from_dict(config.apply_overrides(copy.deepcopy(TINY),
                                                      ["data.box=[-1, 1]", override]))
        (tempering,) = build.build_temperings(cfg, data)
        (controller,) = [m for m in tempering.modules() if isinstance(m, Adaptive)]
        assert controller.level_at(0.0) == pytest.approx(cold), override
        assert controller.level_at(1.0) == pytest.approx(hot), override


def test_an_adaptive_level_ends_clean_where_its_schedule_would_and_g_ema_restarts_there():
    """Unless the config names a ceiling, instance noise's adaptive σ is 0 from the end of its
    line (anneal_fraction of the run), β-GAN's adaptive β is ∞ from the start of its data stage
    (the last fractions[2]) and the lens's λ stays under its default sine decay (0 from 10,000
    steps); a named ceiling replaces that. The β-GAN run's level key changes where
    the data become clean, so G's EMA restarts there, as at the schedule's data stage."""
    cfg = config.from_dict(config.apply_overrides(copy.deepcopy(TINY), ["data.box=[-1, 1]"]))
    data = build.build_data(cfg)
    cases = [("tempering={kind: instance_noise, anneal_fraction: 0.5, "
              "std: {kind: adaptive, start: 1}}", 50, 0.0),
             ("tempering={kind: heat, fractions: [0.1, 0.6, 0.3], "
              "beta: {kind: adaptive, start: 1}}", 70, math.inf),
             ("tempering={kind: lens, width: 4, blocks: 1, weight: {kind: adaptive, start: 1}}",
              10000, 0.0)]
    for override, clean_at, clean in cases:
        steps = "train.steps=100"
        controller = _adaptive(data, ["data.box=[-1, 1]", steps, override])
        hot = controller.level_at(1.0)
        assert controller(0) == pytest.approx(hot)
        assert controller(clean_at - 1) != clean and controller(clean_at) == clean
        named = override.replace("start: 1", f"start: 1, ceiling: {hot}")
        assert _adaptive(data, ["data.box=[-1, 1]", steps, named])(clean_at) == pytest.approx(hot)
    heat = build.build_temperings(config.from_dict(config.apply_overrides(
        copy.deepcopy(TINY), ["data.box=[-1, 1]", "train.steps=100", cases[1][0]])), data)[0]
    assert heat.level_key(69) != heat.level_key(70) and heat.level_key(70) == heat.level_key(99)


def _adaptive(data, overrides: list[str]) -> Adaptive:
    cfg = config.from_dict(config.apply_overrides(copy.deepcopy(TINY), overrides))
    (tempering,) = build.build_temperings(cfg, data)
    (controller,) = [m for m in tempering.modules() if isinstance(m, Adaptive)]
    return controller


def test_the_ema_of_g_restarts_when_an_adaptive_beta_reaches_the_data():
    cfg = config.from_dict(config.apply_overrides(copy.deepcopy(TINY), [
        "data.box=[-1, 1]", "train.steps=20", "train.ema=0.9",
        "tempering={kind: heat, fractions: [0.1, 0.6, 0.3], beta: {kind: adaptive, start: 1}}"]))
    trainer = build.build_trainer(cfg)
    for _ in range(cfg.train.steps):
        trainer.train_step()
    assert int(trainer.G_ema.n_averaged) == 6  # steps 14..19: averaged since the data (14 = 20·0.7)
