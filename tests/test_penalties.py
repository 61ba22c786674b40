"""Gradient penalties on D (objectives/penalties.py): each against its formula on critics whose
input gradient is known, on the member axis, per pack; chosen by objective.penalty; and members
with a penalty equal their single runs."""

import pytest
import torch
from torch import nn

from thermogan.errors import ConfigError
from thermogan.experiment import build, config
from thermogan.nets.packed import PackedDiscriminator
from thermogan.objectives.penalties import PENALTIES, R1, R2, WGANGP
from thermogan.train.members import Looped, Members


class Quadratic(nn.Module):
    """D(x) = ½ xᵀAx + b·x per member: A (S, d, d) symmetric, b (S, d); ∇_x D = Ax + b."""

    def __init__(self, a, b):
        super().__init__()
        self.a, self.b = nn.Parameter(a), nn.Parameter(b)

    def forward(self, x, y=None):  # x (S, B, d) -> (S, B, 1)
        ax = torch.einsum("sij,sbj->sbi", self.a, x)
        return (0.5 * (ax * x).sum(2) + torch.einsum("si,sbi->sb", self.b, x))[..., None]


def quadratic(seed=0, members=2, d=3):
    g = torch.Generator().manual_seed(seed)
    m = torch.randn(members, d, d, generator=g)
    return Quadratic(m + m.transpose(1, 2), torch.randn(members, d, generator=g))


@pytest.mark.parametrize("kind", ["r1", "r2"])
def test_r1_r2_are_half_gamma_times_the_mean_squared_input_gradient_of_each_member(kind):
    d = quadratic()
    real, fake = torch.randn(2, 5, 3), torch.randn(2, 5, 3)
    gamma = 4.0
    out = PENALTIES[kind](gamma)(d, real, fake)
    x = real if kind == "r1" else fake  # R1: on the real samples; R2: on the generated ones
    grads = torch.einsum("sij,sbj->sbi", d.a, x) + d.b[:, None]  # (S, B, d): ∇_x D = Ax + b
    assert out.shape == (2,)
    torch.testing.assert_close(out, gamma / 2 * grads.pow(2).sum(2).mean(1))
    out.sum().backward()  # d/db γ/2 · mean ‖Ax + b‖² = γ · mean (Ax + b), member by member
    torch.testing.assert_close(d.b.grad, gamma * grads.mean(1))


def test_wgan_gp_is_the_squared_distance_of_the_gradient_norm_from_one():
    # D(x) = w_s·x per member: ∇D = w_s everywhere, so the penalty is λ(‖w_s‖ − 1)² whatever ε
    w = torch.tensor([[3.0, 4.0], [0.6, 0.0]], requires_grad=True)  # ‖w‖ = 5 and 0.6
    critic = lambda x, y: (x * w[:, None]).sum(2, keepdim=True)  # noqa: E731
    streams = [torch.Generator().manual_seed(s) for s in (0, 1)]
    out = WGANGP(10.0)(critic, torch.randn(2, 6, 2), torch.randn(2, 6, 2), generators=streams)
    torch.testing.assert_close(out, 10 * torch.tensor([16.0, 0.16]))
    out.sum().backward()  # d/dw λ(‖w‖ − 1)² = 2λ(‖w‖ − 1) w/‖w‖
    torch.testing.assert_close(w.grad, torch.tensor([[48.0, 64.0], [-8.0, 0.0]]))
    fresh = [torch.Generator().manual_seed(s).get_state() for s in (0, 1)]
    assert not any(map(torch.equal, fresh, [s.get_state() for s in streams]))  # each drew ε


def test_wgan_gp_mixes_real_and_fake_with_one_eps_per_pack():
    seen = []
    critic = lambda x, y: (seen.append(x.detach()), x.sum(2, keepdim=True))[1]  # noqa: E731
    real, fake = torch.zeros(1, 6, 2), torch.ones(1, 6, 2)
    WGANGP(1.0)(critic, real, fake, generators=[torch.Generator().manual_seed(0)], packs=2)
    eps = 1 - seen[0][0, :, 0]  # x̂ = ε·0 + (1 − ε)·1
    expected = torch.rand(3, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(eps, expected.repeat(2))  # pack j: rows j and 3 + j share ε_j


def test_the_penalties_of_a_packed_critic_are_per_pack():
    # inner critic w·pack: the gradient of a pack's logit is w over all m·d coordinates
    inner = nn.Linear(4, 1)
    with torch.no_grad():
        inner.weight.copy_(torch.tensor([[1.0, 2.0, 2.0, 4.0]]))  # ‖w‖ = 5 (per sample: √5, √20)
    packed = PackedDiscriminator(inner, 2)
    critic = lambda x, y: torch.stack([packed(xs) for xs in x])  # noqa: E731  (S, n, 1)
    real, fake = torch.randn(2, 12, 2), torch.randn(2, 12, 2)
    streams = [torch.Generator().manual_seed(s) for s in (0, 1)]
    terms = WGANGP().terms(critic, real, fake, None, None, streams, 2)
    assert terms.shape == (2, 6)
    torch.testing.assert_close(terms, torch.full((2, 6), 16.0))
    torch.testing.assert_close(R1(2.0)(critic, real, fake, packs=2), torch.full((2,), 25.0))


def test_a_penalty_reaches_d_only():
    d = quadratic(members=1)
    source = torch.randn(1, 4, 3, requires_grad=True)
    fake = 3 * source  # "generated", with a graph back to G's parameters
    R2(1.0)(d, source.detach(), fake).sum().backward()
    assert source.grad is None and d.a.grad is not None
    with pytest.raises(ValueError, match="weight=-1.0: must be >= 0"):
        R1(-1.0)


def test_objective_penalty_chooses_one_and_gp_weight_is_its_old_spelling(tiny_config):
    def penalty(*overrides):
        return build.build_trainer(config.load(tiny_config, list(overrides))).penalty

    assert penalty("objective.penalty={kind: r1, weight: 2.5}") == R1(2.5)
    assert penalty("objective.penalty={kind: r2, weight: 1}") == R2(1.0)
    assert penalty() is None
    assert penalty("objective.loss=wgan-gp") == WGANGP(10.0)  # the loss's default
    assert penalty("objective.loss=wgan-gp", "objective.penalty={kind: wgan_gp, weight: 0}") is None
    assert penalty("objective.gp_weight=5") == WGANGP(5.0)  # run folders of before read on
    assert penalty("objective.loss=wgan-gp", "objective.gp_weight=null") == WGANGP(10.0)
    with pytest.raises(ConfigError, match="kind 'r3' at objective.penalty; did you mean 'r2'"):
        penalty("objective.penalty={kind: r3, weight: 1}")
    with pytest.raises(ConfigError, match="objective.penalty.gamma.*weight"):
        penalty("objective.penalty={kind: r1, gamma: 1}")
    with pytest.raises(ConfigError, match="objective.penalty.weight=-1.0: must be >= 0"):
        penalty("objective.penalty={kind: r1, weight: -1}")
    with pytest.raises(ConfigError, match="give objective.penalty only"):
        config.load(tiny_config, ["objective.gp_weight=5", "objective.penalty={kind: r1}"])


@pytest.mark.parametrize("engine", ["stacked", "looped"])
def test_members_with_r1_equal_their_single_runs(tiny_config, engine):
    r1 = ["objective.penalty={kind: r1, weight: 2.0}"]

    def trainers():
        cfg = config.load(tiny_config, r1)
        return [build.build_trainer(cfg.model_copy(update={"seed": s})) for s in (0, 1)]

    singles = trainers()
    for trainer in singles:
        for _ in range(8):
            trainer.train_step()
    members = trainers()
    step = Members(members)
    if engine == "looped":
        step.nets = Looped(members)
    for _ in range(8):
        step.train_step()
    step.sync()
    for single, member in zip(singles, members):
        for net in ("G", "D"):
            for a, b in zip(getattr(single, net).parameters(), getattr(member, net).parameters()):
                torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)  # rounding only
    plain = build.build_trainer(config.load(tiny_config).model_copy(update={"seed": 0}))
    for _ in range(8):
        plain.train_step()
    first = [next(t.D.parameters()) for t in (singles[0], plain, members[1])]
    assert not torch.equal(first[0], first[1])  # the penalty moved D
    assert not torch.equal(first[0], first[2])  # and the members are their own runs


@pytest.mark.parametrize("spec", ["{kind: r1, weight: 2.0}", "{kind: wgan_gp, weight: 10}"],
                         ids=["r1", "wgan_gp"])
def test_a_penalised_run_resumes_exactly(tiny_config, spec):
    from helpers import straight_and_resumed

    cfg = config.load(tiny_config, [f"objective.penalty={spec}"])
    straight, resumed = straight_and_resumed(lambda: build.build_trainer(cfg), 6, 3)
    for a, b in zip((*straight.G.parameters(), *straight.D.parameters()),
                    (*resumed.G.parameters(), *resumed.D.parameters())):
        assert torch.equal(a, b)
    assert torch.equal(straight.rngs["penalty"].get_state(), resumed.rngs["penalty"].get_state())
