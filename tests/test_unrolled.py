"""Unrolled GAN (Metz et al. 2017): the functional optimizer updates against torch.optim's, the
G term against a hand-written unrolled loop with D's gradient in closed form, and the term in a
run (refusals, exact resume, D's buffers left alone)."""

from pathlib import Path

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from thermogan.data.batch import Batch
from thermogan.errors import ConfigError
from thermogan.experiment import config
from thermogan.experiment.build import build_trainer, component_options
from thermogan.objectives.adversarial import LOSSES
from thermogan.objectives.unrolled import Unrolled
from thermogan.optim import functional
from thermogan.step import DStep
from thermogan.train.checkpoint import load_checkpoint, save_checkpoint

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
NS = LOSSES["nonsaturating"]


# The update rules ------------------------------------------------------------------------------

OPTIMIZERS = {
    "adam": lambda p: torch.optim.Adam(p, lr=0.1, betas=(0.5, 0.9), weight_decay=0.01),
    "adam fused": lambda p: torch.optim.Adam(p, lr=0.1, betas=(0.8, 0.999), fused=True),
    "sgd momentum": lambda p: torch.optim.SGD(p, lr=0.1, momentum=0.9, weight_decay=0.01),
    "sgd": lambda p: torch.optim.SGD(p, lr=0.1),
}


@pytest.mark.parametrize("kind", sorted(OPTIMIZERS))
def test_each_functional_update_is_torch_optims(kind):
    torch.manual_seed(0)
    net = nn.Linear(3, 2)
    opt = OPTIMIZERS[kind](net.parameters())
    named = dict(net.named_parameters())
    rule = functional.Functional(opt, named)
    params = {n: p.detach().clone() for n, p in named.items()}
    for step in range(4):
        grads = {n: torch.randn_like(p) for n, p in named.items()}
        if step == 2:  # from a live state too: a rule built after steps of the optimizer
            rule = functional.Functional(opt, named)
        params = rule.step(params, grads)
        for n, p in named.items():
            p.grad = grads[n].clone()
        opt.step()
        for n, p in named.items():
            assert torch.allclose(params[n], p.detach(), rtol=1e-6, atol=1e-7), (kind, step, n)


def test_the_square_root_of_a_zero_second_moment_has_gradient_zero():
    v = torch.tensor([0.0, 4.0], requires_grad=True)
    (grad,) = torch.autograd.grad(functional._sqrt(v).sum(), v)
    assert torch.equal(grad, torch.tensor([0.0, 0.25]))


def test_updates_that_cannot_be_unrolled_are_refused():
    from thermogan.optim import sgld

    p = [nn.Parameter(torch.zeros(2))]
    with pytest.raises(ValueError, match="only Adam's and SGD's"):
        functional.check(sgld(p))
    with pytest.raises(ValueError, match="amsgrad=true"):
        functional.check(torch.optim.Adam(p, amsgrad=True))
    with pytest.raises(ValueError, match="nesterov=true"):
        functional.check(torch.optim.SGD(p, lr=0.1, momentum=0.5, nesterov=True))


# The term against a hand-written unrolled loop ---------------------------------------------------

def _reference(w, b, state, xr, xf, k, lr, betas, eps, second_order):
    """k Adam steps of a linear D h = x·w + b on the nonsaturating loss, its gradient in closed
    form: ∂/∂w = mean(−σ(−h_r) x_r) + mean(σ(h_f) x_f), ∂/∂b the same without x; then G's loss
    against the unrolled D."""
    m_w, v_w, m_b, v_b, t = state
    x = xf if second_order else xf.detach()
    for _ in range(k):
        hr, hf = xr @ w + b, x @ w + b  # (B,)
        gr, gf = -torch.sigmoid(-hr), torch.sigmoid(hf)
        g_w = (gr[:, None] * xr).mean(0) + (gf[:, None] * x).mean(0)
        g_b = gr.mean() + gf.mean()
        t += 1
        new = []
        for p, g, m, v in ((w, g_w, m_w, v_w), (b, g_b, m_b, v_b)):
            m = betas[0] * m + (1 - betas[0]) * g
            v = betas[1] * v + (1 - betas[1]) * g**2
            step = lr / (1 - betas[0] ** t) * m / (v.sqrt() / (1 - betas[1] ** t) ** 0.5 + eps)
            new.append((p - step, m, v))
        (w, m_w, v_w), (b, m_b, v_b) = new
    return F.softplus(-(xf @ w + b)).mean()


@pytest.mark.parametrize("k", [1, 3])
@pytest.mark.parametrize("second_order", [True, False])
def test_the_term_gives_g_the_gradient_of_the_unrolled_loss(k, second_order):
    torch.manual_seed(k)
    D, G = nn.Linear(2, 1).double(), nn.Linear(3, 2).double()
    lr, betas, eps = 0.05, (0.5, 0.9), 1e-8
    opt = torch.optim.Adam(D.parameters(), lr=lr, betas=betas, eps=eps)
    xr, z = torch.randn(16, 2, dtype=torch.float64), torch.randn(16, 3, dtype=torch.float64)
    NS.d(D(xr), D(G(z).detach())).backward()
    opt.step()  # the optimizer has a state: the unrolled steps start from it
    xf = G(z)  # (B, 2) with G's graph
    term = Unrolled(None, steps=k, second_order=second_order, d_optimizer=opt, loss=NS)
    total = NS.g(D(xf)) + term(Batch(xf), DStep(Batch(xr), real_seen=xr), D)
    got = torch.autograd.grad(total, list(G.parameters()), retain_graph=True)

    s_w, s_b = opt.state[D.weight], opt.state[D.bias]
    state = (s_w["exp_avg"][0], s_w["exp_avg_sq"][0], s_b["exp_avg"], s_b["exp_avg_sq"],
             float(s_w["step"]))
    want_loss = _reference(D.weight.detach()[0], D.bias.detach(), state, xr, xf, k, lr, betas,
                           eps, second_order)
    want = torch.autograd.grad(want_loss, list(G.parameters()))
    assert torch.allclose(total, want_loss, atol=1e-12)
    for a, b in zip(got, want):
        assert torch.allclose(a, b, rtol=1e-9, atol=1e-12)
    plain = torch.autograd.grad(NS.g(D(G(z))), list(G.parameters()))  # k = 0
    assert not torch.allclose(got[0], plain[0], atol=1e-6)  # the unrolling changes G's step


def test_second_order_term_changes_the_gradient():
    torch.manual_seed(3)
    D, G = nn.Linear(2, 1).double(), nn.Linear(3, 2).double()
    opt = torch.optim.SGD(D.parameters(), lr=0.5)
    xr, z = torch.randn(16, 2, dtype=torch.float64), torch.randn(16, 3, dtype=torch.float64)
    grads = []
    for second_order in (True, False):
        xf = G(z)
        term = Unrolled(None, steps=2, second_order=second_order, d_optimizer=opt, loss=NS)
        value = term(Batch(xf), DStep(Batch(xr), real_seen=xr), D)
        grads.append(torch.autograd.grad(value, G.weight)[0])
    assert not torch.allclose(*grads, atol=1e-6)


# The term in a run -------------------------------------------------------------------------------

def tiny(*overrides):
    return config.load(CONFIGS / "unrolled_ring8.yaml", [
        "train.steps=4", "train.batch_size=32", "model.z_dim=4", "model.generator.hidden=[16]",
        "model.discriminator.hidden=[16]", "regulariser.steps=2", "device=cpu",
        "train.progress=false", "train.tensorboard=false", "eval.samples=100", *overrides])


def test_unrolled_ring8_is_the_protocol_with_the_papers_unrolling():
    cfg = config.load(CONFIGS / "unrolled_ring8.yaml")
    spec = cfg.regularisers()[0]
    assert spec.kind == "unrolled" and spec.options() == {"steps": 10, "second_order": True,
                                                          "weight": 1}
    assert (cfg.model.z_dim, cfg.train.batch_size, cfg.objective.loss) == (256, 512, "minimax")
    terms = build_trainer(tiny()).g_terms
    assert [t.name for t in terms] == ["unrolled"] and float(terms[0].weight(0)) == 1.0
    assert dict(component_options("g_terms", "unrolled")) == {"steps": "10",
                                                             "second_order": "true"}


@pytest.mark.parametrize("second_order", ["true", "false"])
def test_an_unrolled_run_resumes_exactly(tmp_path, second_order):
    cfg = tiny(f"regulariser.second_order={second_order}")
    whole = build_trainer(cfg)
    for _ in range(4):
        logs = whole.train_step()
    assert torch.isfinite(logs["g_unrolled"])
    first = build_trainer(cfg)
    for _ in range(2):
        first.train_step()
    save_checkpoint({**first.state_dict(), "config": cfg.to_dict()}, tmp_path / "latest.pt")
    resumed = build_trainer(cfg)
    resumed.load_state_dict(load_checkpoint(tmp_path / "latest.pt"))
    for _ in range(2):
        resumed.train_step()
    for got, want in ((resumed.G, whole.G), (resumed.D, whole.D)):
        assert all(torch.equal(a, b) for a, b in zip(got.state_dict().values(),
                                                      want.state_dict().values()))


def test_the_term_leaves_d_and_its_buffers_as_they_were():
    cfg = tiny("model.discriminator={kind: maxout, hidden: [8], pieces: 2, spectral_norm: true,"
               " packs: 2}")
    trainer = build_trainer(cfg)
    trainer.train_step()
    d = trainer.d_step()
    before = {k: v.clone() for k, v in trainer.D.state_dict().items()}
    fake = trainer.generate(32)
    value = trainer.g_terms[0].term(fake, d, trainer.D)
    value.backward()
    assert torch.isfinite(value)
    assert any(k.endswith("_u") for k in before)  # the power iteration's vector is there
    assert all(torch.equal(before[k], v) for k, v in trainer.D.state_dict().items())


@pytest.mark.parametrize("override, message", [
    ("optim.d={kind: sgld, lr: 0.01}", r"regulariser\.kind=unrolled: optim\.d: optimizer SGLD"),
    ("objective.loss=wgan-gp", r"regulariser\.kind=unrolled: the gradient penalty \(WGANGP\)"),
    ("tempering={kind: instance_noise}", r"regulariser\.kind=unrolled: a tempering acts on G's"),
    ("regulariser.steps=0", r"regulariser\.steps=0: must be >= 1"),
    ("regulariser.loss=minimax", r"regulariser\.loss: set by the build"),
])
def test_what_the_term_cannot_do_is_refused_when_built(override, message):
    with pytest.raises(ConfigError, match=message):
        build_trainer(tiny(override))
