"""Adversarial losses against values computed by hand, and their behaviour at large logits."""

import math

import pytest
import torch

from thermogan.errors import ConfigError
from thermogan.objectives.adversarial import LOSSES, d_loss, g_loss, get_loss

REAL = torch.tensor([[0.0], [2.0]])
FAKE = torch.tensor([[-1.0], [1.0]])


def sig(h):
    return 1 / (1 + math.exp(-h))


def mean(values):
    return sum(values) / len(values)


HAND = {  # (D loss, G loss) for REAL, FAKE written out from the formulas
    "minimax": (mean([-math.log(sig(0.0)), -math.log(sig(2.0))])
                + mean([-math.log(1 - sig(-1.0)), -math.log(1 - sig(1.0))]),
                mean([math.log(1 - sig(-1.0)), math.log(1 - sig(1.0))])),
    "nonsaturating": (None, mean([-math.log(sig(-1.0)), -math.log(sig(1.0))])),
    "lsgan": (0.5 * mean([1.0, 1.0]) + 0.5 * mean([1.0, 1.0]), 0.5 * mean([4.0, 0.0])),
    "wgan": (0.0 - 1.0, 0.0),
    "wgan-gp": (-1.0, 0.0),
    "hinge": (mean([1.0, 0.0]) + mean([0.0, 2.0]), 0.0),
    "rkl": (mean([1.0, math.exp(2.0)]) - 0.0, 0.0),
}
HAND["nonsaturating"] = (HAND["minimax"][0], HAND["nonsaturating"][1])


@pytest.mark.parametrize("kind", sorted(LOSSES))
def test_losses_match_hand_computed_values(kind):
    d_hand, g_hand = HAND[kind]
    assert d_loss(kind, REAL, FAKE).item() == pytest.approx(d_hand, rel=1e-6)
    assert g_loss(kind, FAKE).item() == pytest.approx(g_hand, abs=1e-7)


@pytest.mark.parametrize("kind", ["minimax", "nonsaturating"])
def test_sigmoid_losses_are_stable_at_large_logits(kind):
    big = torch.tensor([[100.0], [-100.0]], requires_grad=True)
    # D confident and right: real at +100, fake at −100 -> loss ≈ 0, finite gradient
    loss = d_loss(kind, big[:1], big[1:])
    loss.backward()
    assert loss.item() == pytest.approx(0.0, abs=1e-30)
    assert torch.isfinite(big.grad).all()
    # D confident and wrong: loss = 100 + 100 exactly (softplus(100) = 100 + log1p(e^-100))
    assert d_loss(kind, big[1:].detach(), big[:1].detach()).item() == pytest.approx(200.0)
    fake = torch.tensor([[-100.0]], requires_grad=True)
    g = g_loss(kind, fake)
    g.backward()
    assert torch.isfinite(g) and torch.isfinite(fake.grad).all()
    if kind == "nonsaturating":
        assert g.item() == pytest.approx(100.0) and fake.grad.item() == pytest.approx(-1.0)
    else:  # the saturating loss has (almost) no gradient when D rejects the fake: its flaw
        assert abs(fake.grad.item()) < 1e-40


def test_rkl_optimum_is_kl_minus_one():
    # D = −exp(h) with h = log(ρ/μ) pointwise maximises V = KL(ρ‖μ) − 1 (two-point example)
    mu, rho = torch.tensor([0.25, 0.75]), torch.tensor([0.5, 0.5])
    h = torch.log(rho / mu)
    value = -(mu * h.exp()).sum() + (rho * h).sum()
    kl = (rho * torch.log(rho / mu)).sum()
    assert value.item() == pytest.approx(kl.item() - 1)
    for delta in (-0.1, 0.1):  # a perturbed critic does worse
        h2 = h + torch.tensor([delta, -delta])
        assert (-(mu * h2.exp()).sum() + (rho * h2).sum()).item() < value.item()


def test_wgan_gp_carries_its_penalty():
    from thermogan.objectives.penalties import WGANGP

    assert get_loss("wgan-gp").penalty == WGANGP(10.0) and get_loss("wgan").penalty is None


def test_unknown_loss_suggests_the_closest():
    with pytest.raises(ConfigError, match="did you mean 'hinge'"):
        get_loss("hnge")


PER_EXAMPLE = {  # (real term, fake term, G term) of one logit h, written out from the formulas
    "minimax": (lambda h: -math.log(sig(h)), lambda h: -math.log(1 - sig(h)),
                lambda h: math.log(1 - sig(h))),
    "nonsaturating": (lambda h: -math.log(sig(h)), lambda h: -math.log(1 - sig(h)),
                      lambda h: -math.log(sig(h))),
    "lsgan": (lambda h: 0.5 * (h - 1) ** 2, lambda h: 0.5 * h**2, lambda h: 0.5 * (h - 1) ** 2),
    "wgan": (lambda h: -h, lambda h: h, lambda h: -h),
    "wgan-gp": (lambda h: -h, lambda h: h, lambda h: -h),
    "hinge": (lambda h: max(0.0, 1 - h), lambda h: max(0.0, 1 + h), lambda h: -h),
    "rkl": (lambda h: math.exp(h), lambda h: -h, lambda h: h),
}


@pytest.mark.parametrize("kind", sorted(LOSSES))
def test_per_example_terms_match_the_formulas_and_reduce_to_the_losses(kind):
    loss = get_loss(kind)
    h = torch.linspace(-3, 3, 13, dtype=torch.float64)
    for method, formula in zip((loss.real_term, loss.fake_term, loss.g_term), PER_EXAMPLE[kind]):
        for shape in ((13,), (13, 1)):  # logits as (B,) or (B, 1): always (B,) terms
            terms = method(h.reshape(shape))
            assert terms.shape == (13,)
            assert terms.tolist() == pytest.approx([formula(v) for v in h.tolist()], rel=1e-9)
    assert loss.d(REAL, FAKE).item() == pytest.approx(
        (loss.real_term(REAL).mean() + loss.fake_term(FAKE).mean()).item())
    assert d_loss(loss, REAL, FAKE).item() == pytest.approx(d_loss(kind, REAL, FAKE).item())
    assert g_loss(LOSSES[kind], FAKE).item() == pytest.approx(loss.g_term(FAKE).mean().item())


@pytest.mark.parametrize("kind", sorted(LOSSES))
def test_monotone_real_says_whether_the_real_term_is_monotone(kind):
    loss = get_loss(kind)
    steps = torch.diff(loss.real_term(torch.linspace(-5, 5, 201)))
    monotone = bool((steps <= 0).all() or (steps >= 0).all())
    assert loss.monotone_real == monotone
