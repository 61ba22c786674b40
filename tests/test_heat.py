"""β-GAN's heat tempering and the instance-noise baseline, tested statistically."""

import math

import numpy as np
import pytest
import torch
from scipy import stats
from torch import nn

from thermogan.data.batch import Batch
from thermogan.data.toy import ring
from thermogan.errors import ConfigError
from thermogan.experiment import build, config
from thermogan.objectives.adversarial import get_loss
from thermogan.schedules import Constant, Geometric
from thermogan.step import DStep
from thermogan.tempering.heat import Heat, betagan_schedule, reflect
from thermogan.tempering.heat import heated as heat_map
from thermogan.tempering.noise import InstanceNoise, noised

N = 200_000


def heated(beta, x0=0.0, boundary="reflect", n=N, seed=0):
    h = Heat(Constant(beta), -1.0, 1.0, boundary)
    h.set_step(0)
    x = torch.full((n, 1), x0, dtype=torch.float64)
    return h(x, generator=torch.Generator().manual_seed(seed))[:, 0].numpy()


@pytest.mark.parametrize("beta", [100.0, 400.0])
def test_noise_std_is_one_over_sqrt_beta_far_from_the_walls(beta):
    y = heated(beta)  # walls at ±1 are ≥ 10 std away: reflection (almost) never acts
    sigma = 1 / math.sqrt(beta)
    # (n − 1) s² / σ² ~ χ²(n − 1): two-sided test of the variance
    stat = (N - 1) * y.var(ddof=1) / sigma**2
    p = 2 * min(stats.chi2.cdf(stat, N - 1), stats.chi2.sf(stat, N - 1))
    assert p > 1e-3
    assert stats.normaltest(y).pvalue > 1e-3 and abs(y.mean()) < 5 * sigma / math.sqrt(N)


def fold_by_hand(v, low, high):
    """Reference: mirror at the walls until inside (an independent, loop-based implementation)."""
    while v < low or v > high:
        v = 2 * low - v if v < low else 2 * high - v
    return v


def test_reflection_is_identity_inside_and_never_leaves():
    inside = torch.empty(10_000).uniform_(-1, 1, generator=torch.Generator().manual_seed(1))
    assert torch.equal(reflect(inside, -1.0, 1.0), inside)
    wild = torch.randn(5_000, generator=torch.Generator().manual_seed(2), dtype=torch.float64) * 50
    folded = reflect(wild, -1.0, 1.0)
    assert folded.min() >= -1 and folded.max() <= 1
    expected = [fold_by_hand(v, -1.0, 1.0) for v in wild.tolist()]
    np.testing.assert_allclose(folded.numpy(), expected, atol=1e-9)
    assert reflect(torch.tensor([0.5, 3.0]), 0.0, 2.0).tolist() == [0.5, 1.0]


@pytest.mark.parametrize("beta, x0", [(1e-4, 0.7), (0.0, 0.7)])
def test_cold_limit_is_uniform_on_the_box(beta, x0):
    y = heated(beta, x0=x0, n=50_000)
    assert y.min() >= -1 and y.max() <= 1
    assert stats.kstest(y, stats.uniform(-1, 2).cdf).pvalue > 1e-3


def test_hot_but_not_infinite_is_not_uniform():
    y = heated(1.0, x0=0.7, n=50_000)  # σ = 1 on a box of width 2: still far from uniform
    assert stats.kstest(y, stats.uniform(-1, 2).cdf).pvalue < 1e-6


def test_other_boundaries_and_the_cold_end():
    clipped = heated(1.0, n=20_000, boundary="clip")
    assert clipped.min() == -1.0 and clipped.max() == 1.0
    free = heated(1.0, n=20_000, boundary="none")
    assert free.min() < -1 and free.max() > 1
    x = torch.randn(50, 2)
    h = Heat(Constant(math.inf))
    h.set_step(0)
    assert torch.equal(h(x), x)  # β = ∞: the data unchanged
    with pytest.raises(ValueError, match="boundary='wrap'"):
        Heat(Constant(1.0), boundary="wrap")


def test_the_whole_algorithm_as_one_schedule():
    sched = betagan_schedule(1000, 0.1, 10.0, 20, (0.1, 0.7, 0.2))
    assert [p.name for p in sched.parts] == ["uniform", "anneal", "data"]
    assert sched.starts() == [0, 100, 800]
    assert sched(0) == sched(99) == 0.0
    assert sched(100) == pytest.approx(0.1) and sched(799) == pytest.approx(10.0)
    assert sched(800) == math.inf and sched(10**6) == math.inf
    literal = betagan_schedule(1000, 0.1, 10.0, 20, (0.1, 0.7, 0.2), literal=True)
    assert literal(799) == pytest.approx(0.1 * 100 ** (19 / 20))  # the paper never reaches β_K
    assert betagan_schedule(1000, fractions=(0.0, 0.8, 0.2)).parts[0].name == "anneal"
    with pytest.raises(ValueError, match="fractions"):
        betagan_schedule(1000, fractions=(0.5, 0.5, 0.5))
    for levels in (0, -1):  # once a ZeroDivisionError and a misleading message
        with pytest.raises(ValueError, match=f"levels={levels}: must be >= 1"):
            betagan_schedule(1000, levels=levels)
    with pytest.raises(ValueError, match="beta_start=100.0: must be > 0 and below beta_end=10.0"):
        betagan_schedule(1000, 100.0, 10.0)  # once heated instead of cooling, silently
    with pytest.raises(ValueError, match="levels=20"):
        betagan_schedule(10)


def test_level_key_and_describe_follow_the_stages():
    h = Heat.for_run(1000, ring().in_box(-1, 1))
    keys = [h.level_key(t) for t in (0, 99, 100, 134, 135, 799, 800, 999)]
    assert keys == [(0, 0), (0, 0), (1, 0), (1, 0), (1, 1), (1, 19), (2, 0), (2, 0)]
    h.set_step(135)
    assert h.describe() == {"stage": 1, "level": 1, "beta": pytest.approx(0.1 * 100 ** (1 / 19))}


def test_cold_std_derives_the_cold_end_from_the_data():
    data = ring().in_box(-1, 1)
    h = Heat.for_run(1000, data, cold_std=2.0)
    assert h.beta.parts[1].schedule.end == pytest.approx(1 / (2 * data.std) ** 2)
    with pytest.raises(ValueError, match="box=None"):
        Heat.for_run(1000, ring())


class RadialCritic(nn.Module):
    """logit = 1 − 4|x|²: the further heated data move from 0, the less real they look."""

    def forward(self, x):
        return 1 - 4 * (x**2).sum(1, keepdim=True)


def record(x):
    """A D record holding only a real batch (what the coupling reads)."""
    empty = torch.zeros(len(x))
    return DStep(Batch(x), Batch(x), x, x, empty, empty, torch.zeros(()))


@pytest.mark.parametrize("loss", ["minimax", "nonsaturating", "wgan", "hinge"])
def test_coupled_temperature_descends_the_objective(loss):
    h = Heat(Geometric(4.0, 4.0, 1, 10), coupled=True, coupling_lr=0.01)
    h.set_step(0)
    assert h.sigma() == pytest.approx(0.5)
    (coupling,) = h.players()
    out = coupling.update(record(torch.zeros(4096, 2)), RadialCritic(), get_loss(loss),
                          torch.Generator().manual_seed(0))
    # V's real term (−D's real loss on x + σε) falls as σ grows, so descending V raises σ
    assert h.offset.item() > 0 and out["sigma"].item() == pytest.approx(0.5 + h.offset.item())
    plain = Heat(Constant(4.0))
    assert plain.players() == [] and plain.offset.item() == 0


def test_coupling_uses_the_configured_losss_real_term():
    """One step of δ equals −lr·∂/∂δ of −mean(real_term(D(x + (σ+δ)ε))), computed by hand."""
    critic, x = RadialCritic(), torch.zeros(256, 2)
    for name in ("minimax", "wgan"):
        h = Heat(Constant(4.0), coupled=True, coupling_lr=0.1)
        h.set_step(0)
        h.players()[0].update(record(x), critic, get_loss(name), torch.Generator().manual_seed(5))
        eps = torch.randn(x.shape, generator=torch.Generator().manual_seed(5))
        delta = torch.zeros((), requires_grad=True)
        logits = critic(heat_map(x, eps, 0.5 + delta))
        value = -get_loss(name).real_term(logits).mean()
        (grad,) = torch.autograd.grad(value, delta)
        assert h.offset.item() == pytest.approx(-0.1 * grad.item(), rel=1e-5)


def test_coupling_refuses_a_loss_whose_real_term_goes_both_ways():
    h = Heat(Constant(4.0), coupled=True)
    with pytest.raises(ConfigError, match="lsgan"):
        h.players()[0].check(get_loss("lsgan"))
    cfg = config.load("configs/ring8_betagan.yaml", ["tempering.coupled=true",
                                                     "objective.loss=lsgan"])
    with pytest.raises(ConfigError, match="coupled=false"):
        build.build_trainer(cfg)


def test_pure_maps_match_their_modules():
    x, eps = torch.rand(64, 3) * 2 - 1, torch.randn(64, 3)
    assert torch.equal(noised(x, eps, 0.3), x + 0.3 * eps)
    assert torch.equal(heat_map(x, eps, 0.2, boundary="none"), x + 0.2 * eps)
    h = Heat(Constant(25.0))
    h.set_step(0)
    gen_a, gen_b = torch.Generator().manual_seed(1), torch.Generator().manual_seed(1)
    noise = torch.randn(x.shape, generator=gen_b)
    assert torch.equal(h(x, generator=gen_a), heat_map(x, noise, 0.2))


def test_instance_noise_heats_both_sides_and_anneals_to_zero():
    noise = InstanceNoise.for_run(1000, ring(), std_start=0.5, anneal_fraction=0.5)
    assert noise.sides == ("real", "fake")
    noise.set_step(0)
    x = torch.zeros(100_000, 1)
    assert noise(x, generator=torch.Generator().manual_seed(0)).std().item() == pytest.approx(
        0.5, rel=0.02)
    noise.set_step(250)
    assert noise.describe()["noise_std"] == pytest.approx(0.25)
    noise.set_step(500)
    assert torch.equal(noise(x), x)


def test_in_box_is_isotropic_and_invertible():
    from thermogan.data.toy import grid

    raw = grid()
    boxed = raw.in_box(-1, 1)
    assert boxed.box == (-1.0, 1.0)
    scale = 2 / (8 + 6 * 0.05)
    assert boxed.std == pytest.approx(0.05 * scale)
    np.testing.assert_allclose(boxed.centers, raw.centers * scale, atol=1e-12)
    np.testing.assert_allclose(boxed.to_data(boxed.centers), raw.centers, atol=1e-12)
    x = boxed.sample(10_000, torch.Generator().manual_seed(0)).x.numpy()
    assert (np.abs(x) > 1).any(axis=1).mean() < 0.005  # only the 3-std tails of edge modes


def test_coupling_noise_differs_between_seeds():
    """Each run's coupling draws from its own stream, seeded from the run seed (not the step)."""
    offsets = []
    for seed in (0, 1):
        cfg = config.load("configs/ring8_betagan.yaml", [
            "train.steps=40", "train.batch_size=16", "model.generator.hidden=[8]",
            "model.discriminator.hidden=[8]", "tempering.levels=2", "tempering.coupled=true",
            f"seed={seed}", "tempering.fractions=[0.0, 0.9, 0.1]"])
        trainer = build.build_trainer(cfg)
        trainer.train_step()
        offsets.append(trainer.temperings[0].offset.item())
    assert offsets[0] != offsets[1]


def test_ema_restarts_at_each_temperature_level():
    cfg = config.load("configs/ring8_betagan.yaml", [
        "train.steps=100", "train.batch_size=16", "model.generator.hidden=[8]",
        "model.discriminator.hidden=[8]", "tempering.levels=4", "train.ema=0.99", "device=cpu"])
    trainer = build.build_trainer(cfg)  # stages: 10 uniform steps, 4 levels × 17, then data
    for _ in range(11):
        trainer.train_step()
    same = [torch.equal(a, b) for a, b in zip(trainer.G.parameters(),
                                              trainer.G_ema.module.parameters())]
    assert all(same)  # step 10 opened the first cooling level: the average restarted
    trainer.train_step()
    assert not all(torch.equal(a, b) for a, b in zip(trainer.G.parameters(),
                                                     trainer.G_ema.module.parameters()))
