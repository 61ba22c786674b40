"""Variational annealing's score regulariser (Tao et al. 2019; docs/variational.md): closed-form
densities and scores, the term's gradient, the denoiser's score, and the exactness check."""

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats
from scipy.special import logsumexp

from thermogan.data import toy
from thermogan.data.batch import Batch
from thermogan.experiment import build, config
from thermogan.experiment.scoring import evaluate
from thermogan.nets import DISCRIMINATORS
from thermogan.nets.features import penultimate
from thermogan.objectives.denoiser import Denoiser
from thermogan.objectives.terms import WeightedTerm
from thermogan.objectives.variational import ScoreRegulariser, optimum_std
from thermogan.schedules import Constant
from thermogan.train.ensemble import Stacked
from thermogan.train.members import Members

MIXTURES = {
    "ring": toy.ring(), "ring_boxed": toy.ring().in_box(-1, 1), "grid": toy.grid(),
    "mog1d": toy.mog1d(), "mog3d": toy.mog3d(5), "gauss1d": toy.gauss1d(1.0, 2.0),
    "grid_boxed": toy.grid().in_box(-1, 1),
}


def _scipy_log_prob(data, x):
    """The mixture's log density from scipy's Gaussians (an independent reference)."""
    cov = data.std**2 * np.eye(data.dim)
    logs = [stats.multivariate_normal(c, cov).logpdf(x) for c in data.centers]
    return logsumexp(np.stack(logs, axis=-1).reshape(len(x), -1), axis=1) - math.log(len(logs))


@pytest.mark.parametrize("name", sorted(MIXTURES))
def test_log_prob_matches_scipy_and_score_is_its_gradient(name):
    data = MIXTURES[name]
    gen = torch.Generator().manual_seed(0)
    near = data.sample(50, gen).x.double()  # (50, d) on the data
    far = near + torch.randn(near.shape, generator=gen, dtype=torch.float64)  # off it
    x = torch.cat([near, far]).requires_grad_(True)
    log_p = data.log_prob(x)
    np.testing.assert_allclose(log_p.detach().numpy(), _scipy_log_prob(data, x.detach().numpy()),
                               rtol=1e-9, atol=1e-9)
    (grad,) = torch.autograd.grad(log_p.sum(), x)
    torch.testing.assert_close(data.score(x.detach()), grad, rtol=1e-9, atol=1e-9)


def test_densities_integrate_to_one():
    data = toy.mog1d().in_box(-1, 1)  # the box map's Jacobian is part of the density
    density = lambda v: float(data.log_prob(torch.tensor([[v]], dtype=torch.float64)).exp())  # noqa: E731
    edges = np.concatenate([[-2.0], (data.centers[1:, 0] + data.centers[:-1, 0]) / 2, [2.0]])
    pieces = [integrate.quad(density, a, b, points=[c])[0]
              for a, b, c in zip(edges[:-1], edges[1:], data.centers[:, 0])]
    assert sum(pieces) == pytest.approx(1.0, abs=1e-6)
    cubes = toy.cubes()  # two cubes of side 0.5: density 1/(2·0.125) = 4 inside, 0 outside
    inside_outside = cubes.log_prob(torch.tensor([[0.5, 0.5, 0.5], [0.0, 0.0, 0.0]]))
    assert inside_outside[0] == pytest.approx(math.log(4.0)) and inside_outside[1] == -math.inf
    with pytest.raises(ValueError, match="score: dae"):
        cubes.score(torch.zeros(1, 3))


def _term_gradients(term, G, z, fake_fn):
    x = G(z)
    value = term(Batch(x), None, None)
    return torch.autograd.grad(value, list(G.parameters())), x


def test_score_term_has_the_gradient_of_minus_expected_log_density():
    """d/dθ of −mean ⟨G(z), stopgrad S(G(z))⟩ = d/dθ of −mean log μ(G(z)) (docs/variational.md)."""
    torch.manual_seed(0)
    data = toy.grid().in_box(-1, 1)
    G = torch.nn.Sequential(torch.nn.Linear(3, 16), torch.nn.Tanh(),
                            torch.nn.Linear(16, 2)).double()
    z = torch.randn(64, 3, dtype=torch.float64)
    term = ScoreRegulariser(data)
    grads, _ = _term_gradients(term, G, z, None)
    reference = torch.autograd.grad(-data.log_prob(G(z)).mean(), list(G.parameters()))
    for g, r in zip(grads, reference):
        torch.testing.assert_close(g, r, rtol=1e-9, atol=1e-12)


def test_code_compat_is_the_authors_form():
    """Their updater: l · mean((r(f).data − f) · f): r detached, −f not, mean over entries."""
    torch.manual_seed(1)
    G = torch.nn.Linear(2, 3).double()
    z = torch.randn(32, 2, dtype=torch.float64)
    D = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.Tanh(), torch.nn.Linear(4, 1)).double()
    term = ScoreRegulariser(toy.box(3), score="dae", space="features", code_compat=True,
                            sigma=0.5, hidden=(8,), discriminator=D).double()
    torch.nn.init.normal_(term.denoiser.body[-1].weight)  # a denoiser that does something
    theirs = term(Batch(G(z)), None, D)
    (grad,) = torch.autograd.grad(theirs, [G.weight])
    f = D[:-1](G(z))  # (32, 4) with G's graph
    r = term.denoiser(f).detach()
    reference = ((r - f) / 0.25 * f).mean()
    (ref_grad,) = torch.autograd.grad(reference, [G.weight])
    assert float(theirs.detach()) == pytest.approx(float(reference.detach()), rel=1e-12)
    torch.testing.assert_close(grad, ref_grad, rtol=1e-10, atol=1e-12)
    detached = ScoreRegulariser(toy.box(3), score="dae", space="features", sigma=0.5,
                                hidden=(8,), discriminator=D).double()
    detached.load_state_dict(term.state_dict())
    (ours,) = torch.autograd.grad(detached(Batch(G(z)), None, D), [G.weight])
    assert not torch.allclose(ours * -1 / 4, grad)  # not ours rescaled: the −f is live
    with pytest.raises(ValueError, match="score: dae"):
        ScoreRegulariser(toy.ring(), code_compat=True)


def test_denoiser_score_matches_the_gaussian_score():
    """Tweedie: (r(x) − x)/σ² → ∇ log N(m, s² + σ²), i.e. 1/(1 + σ²/s²) times the data's score.
    Stated tolerance at σ = s/10, over m ± 2s: linear fit r > 0.995, slope within 3 % of that
    factor, intercept below 0.05 (the scores span ±2)."""
    torch.manual_seed(0)
    m, s, sigma, steps = 1.0, 1.0, 0.1, 1500
    dae = Denoiser(1, sigma, hidden=(64, 64))
    opt = torch.optim.Adam(dae.parameters(), 3e-3)
    decay = torch.optim.lr_scheduler.LinearLR(opt, 1.0, 0.05, steps)
    gen = torch.Generator().manual_seed(1)
    for _ in range(steps):
        loss = dae.loss(m + s * torch.randn(512, 1, generator=gen), gen)
        opt.zero_grad()
        loss.backward()
        opt.step()
        decay.step()
    grid = torch.linspace(m - 2 * s, m + 2 * s, 101)[:, None]
    with torch.no_grad():
        estimate = dae.score(grid)[:, 0].numpy()
    analytic = toy.gauss1d(m, s).score(grid)[:, 0].numpy()
    fit = stats.linregress(analytic, estimate)
    assert fit.rvalue > 0.995
    assert fit.slope == pytest.approx(1 / (1 + sigma**2 / s**2), rel=0.03)
    assert abs(fit.intercept) < 0.05


def test_features_are_the_input_of_the_last_layer():
    torch.manual_seed(0)
    for kind, shape in (("mlp", (2,)), ("fc", (1, 8, 8)), ("dcgan", (1, 32, 32))):
        options = {"norm": "none"} if kind != "mlp" else {}
        D = DISCRIMINATORS[kind](shape, **options)
        x = torch.randn(3, *shape)
        phi = penultimate(D)(x)  # (3, F)
        last = [m for m in D.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d))][-1]
        seen: list[torch.Tensor] = []
        last.register_forward_hook(lambda mod, inp, out, seen=seen: seen.append(inp[0]))
        D(x)
        torch.testing.assert_close(phi, seen[0].flatten(1))


def test_feature_space_term_reaches_g_not_d():
    cfg = config.load(None, ["regulariser={kind: score, score: dae, space: features, sigma: 1.0, "
                             "hidden: [32]}", "train.batch_size=16"])
    trainer = build.build_trainer(cfg)
    assert "denoiser" in trainer.players
    d = trainer.d_step()
    trainer.players["denoiser"].update(d, trainer.D, trainer.loss)
    d_before = [(p.detach().clone(), p.grad.clone()) for p in trainer.D.parameters()]
    g_before = [p.detach().clone() for p in trainer.G.parameters()]
    trainer.g_terms[0] = WeightedTerm(trainer.g_terms[0].term, Constant(1e3))  # dominates
    out = trainer.g_step(d)
    assert float(out["g_score"]) != 0
    for (value, grad), p in zip(d_before, trainer.D.parameters()):
        assert torch.equal(value, p) and torch.equal(grad, p.grad)  # D untouched
    assert not all(torch.equal(a, b) for a, b in zip(g_before, trainer.G.parameters()))


def test_optimum_std():
    assert optimum_std(2.0, 3.0) == 1.0
    with pytest.raises(ValueError, match="λ > −1"):
        optimum_std(1.0, -1.0)


EXACT = "configs/va_gauss1d.yaml"


@pytest.mark.parametrize("score, lams, tolerance, steps", [
    ("analytic", (-0.5, 1.0, 3.0), 0.05, 2000),  # within 4.0 % by 2,000 steps (seeds 0-1)
    ("dae", (-0.5, 3.0), 0.10, 1500)],  # the DAE at both ends: within 3.5 % by 1,500 steps
    ids=["analytic", "dae"])
def test_exactness_generated_std_reaches_sigma_over_root_one_plus_lambda(score, lams, tolerance,
                                                                        steps):
    """The issue's check: N(1, 1) data, affine G, RKL-GAN, static λ: std → 1/√(1+λ)
    (benchmarks/va_exactness.py runs every λ with both scores across seeds). The λs train as one
    shared computation (``Members``; each member equals its single run, test_ensemble.py); the
    learning rate decays over the steps given (the config's budget is 3,000; seeds 0-1 at 2,000
    steps: the analytic score's stds within 4.0 % of the optimum, against the 5 % allowed; seeds
    0-2 of single runs at 1,500 steps: the DAE's within 3.5 %, against the 10 % allowed)."""
    torch.set_num_threads(1)
    configs = [config.load(EXACT, [f"regulariser.weight={lam}", f"regulariser.score={score}",
                                   f"train.steps={steps}", f"optim.lr_decay.steps={steps}"])
               for lam in lams]
    trainers = [build.build_trainer(cfg) for cfg in configs]
    members = Members(trainers)
    assert isinstance(members.nets, Stacked)  # one computation, not a loop over runs
    for _ in range(configs[0].train.steps):
        members.train_step()
    for lam, cfg, trainer in zip(lams, configs, members.sync()):
        summary = evaluate(cfg, trainer)
        m, p = summary["metrics"], summary["protocol"]
        assert p["optimum_std"] == pytest.approx(1 / math.sqrt(1 + lam))
        assert m["std"] == pytest.approx(p["optimum_std"], rel=tolerance), f"λ = {lam}"
        assert m["mean"] == pytest.approx(1.0, abs=0.1), f"λ = {lam}"


def test_a_learned_score_resumes_bit_identically(tiny_config, tmp_path):
    """The denoiser (weights and Adam state) is checkpointed with the players."""
    from thermogan.train.checkpoint import load_checkpoint, save_checkpoint

    term = ("regulariser={kind: score, score: dae, space: features, sigma: 1.0, hidden: [16], "
            "weight: {kind: oa, total_steps: 30, half_period: 7}}")
    cfg = config.load(tiny_config, [term])
    straight = build.build_trainer(cfg)
    for _ in range(30):
        straight.train_step()
    first = build.build_trainer(cfg)
    for _ in range(13):
        first.train_step()
    save_checkpoint({**first.state_dict(), "config": cfg.to_dict()}, tmp_path / "c.pt")
    second = build.build_trainer(config.load(tiny_config, [term, "seed=99"]))
    second.load_state_dict(load_checkpoint(tmp_path / "c.pt"))
    for _ in range(17):
        second.train_step()
    nets = [straight.G, straight.D, straight.g_terms[0].term.denoiser]
    again = [second.G, second.D, second.g_terms[0].term.denoiser]
    for a, b in zip(nets, again):
        for p, q in zip(a.parameters(), b.parameters()):
            assert torch.equal(p, q)


def test_the_weight_of_each_term_is_logged_with_the_levels(tiny_config):
    cfg = config.load(tiny_config, ["regulariser={kind: score, weight: {kind: pma, "
                                    "total_steps: 10}}", "data.kind=ring", "data.box=null"])
    trainer = build.build_trainer(cfg)
    for _ in range(4):
        trainer.train_step()
    assert trainer.describe()["score_weight"] == pytest.approx(-(1 - 4 / 8))


def test_a_weight_that_reaches_zero_inside_a_log_window_is_logged_over_its_steps(tiny_config,
                                                                                tmp_path):
    """λ(t) reaches 0 at step 24 of a 50-step window: g_score is logged over the steps that
    computed it (it used to stop the run with a KeyError)."""
    from thermogan.cli import main

    out = tmp_path / "run"
    assert main(["train", str(tiny_config), "train.steps=50", "train.log_every=50",
                 "regulariser={kind: score, weight: {kind: nma, total_steps: 30}}",
                 "--out", str(out)]) == 0
    assert '"g_score"' in (out / "metrics.jsonl").read_text()


def test_eval_of_1d_data_prints_mean_and_std_beside_the_data_and_the_optimum(tmp_path, capsys):
    from thermogan.cli import main

    out = tmp_path / "run"
    assert main(["train", EXACT, "train.steps=20", "train.progress=false", "eval.samples=500",
                 "--out", str(out)]) == 0
    assert main(["eval", str(out)]) == 0
    printed = capsys.readouterr().out.splitlines()[-1]
    assert "(data 1.000)" in printed and "(data 1.000, optimum 0.707)" in printed
