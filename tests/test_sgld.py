"""SGLD (thermogan.optim.sgld) and the per-example gradient variance (thermogan.optim.variance).

The stationary tests run L = λθ²/2 on many independent float64 coordinates: one snapshot of n
coordinates after burn-in estimates the stationary variance v by mean(θ²) (the mean is 0), with
standard error v·sqrt(2/n) (θ Gaussian). Tolerances are 5 standard errors.
"""

import io
import math

import pytest
import torch
from torch import nn

from thermogan.optim import OPTIMIZERS, sgld
from thermogan.optim.sgld import SGLD
from thermogan.optim.variance import by_parameter, microbatch_variance, per_example_variance

N_COORDS = 400_000
SE = math.sqrt(2 / N_COORDS)  # relative standard error of mean(θ²/v) for Gaussian θ


def run_quadratic(opt, theta, lam, steps, grad_noise=None, variance=None, seed=1):
    """``steps`` SGLD steps on L = λθ²/2; ``grad_noise``: std of noise added to the exact gradient
    (from its own generator); ``variance``: V handed in every step."""
    g = torch.Generator().manual_seed(seed)
    for _ in range(steps):
        grad = lam * theta.detach()
        if grad_noise is not None:
            grad = grad + grad_noise * torch.randn(theta.shape, generator=g, dtype=theta.dtype)
        theta.grad = grad
        if variance is not None:
            opt.set_variance({theta: variance})
        opt.step()


def burn_in(lr, lam):
    """Steps until (1 − ελ)^(2t), the start's weight in the variance, is below 1e-12."""
    return int(math.ceil(math.log(1e-12) / (2 * math.log(abs(1 - lr * lam))))) + 1


@pytest.mark.parametrize("lam, lr, temp", [(1.0, 0.1, 1.0), (4.0, 0.05, 0.5)])
def test_isotropic_stationary_variance_is_eulers(lam, lr, temp):
    theta = nn.Parameter(torch.zeros(N_COORDS, dtype=torch.float64))
    opt = SGLD([theta], lr, temperature=temp, generator=torch.Generator().manual_seed(0))
    run_quadratic(opt, theta, lam, burn_in(lr, lam))
    expected = temp / (lam * (1 - lr * lam / 2))
    ratio = theta.detach().square().mean().item() / expected
    assert abs(ratio - 1) < 5 * SE
    # and it is not the continuous-time T/λ (that differs by ελ/2 = 5% here: > 20 s.e.)
    assert abs(theta.detach().square().mean().item() / (temp / lam) - 1) > 10 * SE
    assert opt.noise_level()["noise_std"] == pytest.approx(math.sqrt(2 * lr * temp))


# Artificial gradient noise. Each example's gradient is λθ + e_i with Var(e_i) = V (the
# per-example gradient variance, per coordinate), so the batch-mean gradient is λθ + η with
# η ~ N(0, V/B): we add sqrt(V/B)·z to the exact gradient and hand in the true V. The linear
# recursion θ' = (1 − ελ)θ − εη + ξ, ξ ~ N(0, Σ), has stationary variance
#     v = (ε²V/B + Σ) / (1 − (1 − ελ)²) = (ε²V/B + Σ) / (ελ (2 − ελ)).
# ccadl:      Σ = 2εT − ε²V/B          ⇒ v = T / (λ (1 − ελ/2)) = T/λ · (1 + O(ελ)).
# covariance: Σ = 2εT·V                ⇒ v = (ε²V/B + 2εTV) / (ελ (2 − ελ)).
# isotropic:  Σ = 2εT                  ⇒ v = (ε²V/B + 2εT) / (ελ (2 − ελ))  (inflated by the noise).
LAM, LR, TEMP, BATCH = 1.0, 0.1, 1.0, 4


def noisy_variance():
    """V ∈ {10, 40}, half the coordinates each (ε²V/B = 0.025, 0.1 < 2εT = 0.2)."""
    v = torch.full((N_COORDS,), 10.0, dtype=torch.float64)
    v[N_COORDS // 2:] = 40.0
    return v


@pytest.mark.parametrize("noise", ["ccadl", "covariance", "isotropic"])
def test_gradient_noise_stationary_variance(noise):
    v = noisy_variance()
    theta = nn.Parameter(torch.zeros(N_COORDS, dtype=torch.float64))
    opt = SGLD([theta], LR, temperature=TEMP, noise=noise, batch_size=BATCH,
               generator=torch.Generator().manual_seed(0))
    run_quadratic(opt, theta, LAM, burn_in(LR, LAM), grad_noise=(v / BATCH).sqrt(), variance=v)
    grad_var = LR**2 * v / BATCH
    sigma = {"ccadl": 2 * LR * TEMP - grad_var, "covariance": 2 * LR * TEMP * v,
             "isotropic": torch.full_like(v, 2 * LR * TEMP)}[noise]
    predicted = (grad_var + sigma) / (LR * LAM * (2 - LR * LAM))
    ratio = (theta.detach().square() / predicted).mean().item()
    assert abs(ratio - 1) < 5 * SE
    if noise == "ccadl":  # back to T/λ within O(ε): exactly Euler's T / (λ (1 − ελ/2))
        assert predicted.allclose(torch.tensor(TEMP / (LAM * (1 - LR * LAM / 2)),
                                               dtype=torch.float64))
        assert abs(theta.detach().square().mean().item() * LAM / TEMP - 1) < LR * LAM
    level = opt.noise_level()
    assert level["noise_std"] == pytest.approx(sigma.sqrt().mean().item())
    assert level["sqrt_variance"] == pytest.approx(v.sqrt().mean().item())


def test_ccadl_injects_nothing_where_the_gradient_noise_suffices():
    theta = nn.Parameter(torch.ones(3, dtype=torch.float64))
    opt = SGLD([theta], 0.1, temperature=1.0, noise="ccadl", batch_size=1)
    theta.grad = torch.zeros_like(theta)
    opt.set_variance({theta: torch.full((3,), 100.0, dtype=torch.float64)})  # ε²V/B = 1 > 0.2
    opt.step()
    assert opt.noise_level()["noise_std"] == 0
    assert torch.equal(theta.detach(), torch.ones(3, dtype=torch.float64))


def feed(opt, theta, vs):
    for v in vs:
        theta.grad = torch.zeros_like(theta)
        opt.set_variance({theta: v})
        opt.step()


def test_running_mean_and_ema_of_the_variance():
    g = torch.Generator().manual_seed(3)
    vs = [torch.rand(5, generator=g, dtype=torch.float64) for _ in range(7)]
    theta = nn.Parameter(torch.zeros(5, dtype=torch.float64))
    opt = SGLD([theta], 0.01, noise="covariance")
    feed(opt, theta, vs)
    assert torch.allclose(opt.state[theta]["variance_avg"], torch.stack(vs).mean(0))
    assert opt.state[theta]["variance_count"] == 7

    theta = nn.Parameter(torch.zeros(5, dtype=torch.float64))
    opt = SGLD([theta], 0.01, noise="covariance", average="ema", ema_decay=0.8)
    feed(opt, theta, vs)
    expected = vs[0]
    for v in vs[1:]:
        expected = 0.8 * expected + 0.2 * v
    assert torch.allclose(opt.state[theta]["variance_avg"], expected)


def test_isotropic_optional_variance_and_prior():
    theta = nn.Parameter(torch.full((4,), 2.0, dtype=torch.float64))
    opt = SGLD([theta], 0.1, temperature=0.0, prior_std=2.0)
    theta.grad = torch.zeros_like(theta)
    opt.step()  # no variance needed; T = 0: θ ← θ − ε θ / prior_std²
    expected = torch.full((4,), 2.0 * (1 - 0.1 / 4), dtype=torch.float64)
    assert torch.allclose(theta.detach(), expected)
    assert math.isnan(opt.noise_level()["sqrt_variance"])


def test_covariance_without_variance_is_refused_untouched():
    theta = nn.Parameter(torch.ones(3))
    opt = SGLD([theta], 0.1, noise="covariance")
    theta.grad = torch.ones(3)
    with pytest.raises(RuntimeError, match="set_variance"):
        opt.step()
    assert torch.equal(theta.detach(), torch.ones(3))
    with pytest.raises(ValueError, match="shape"):
        opt.set_variance({theta: torch.ones(2)})


def mlp():
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 5), nn.Tanh(), nn.Linear(5, 1)).double()


def squared_error(out, y):
    return (out.squeeze(-1) - y).square()  # (B,)


def data(n, seed=0):
    g = torch.Generator().manual_seed(seed)
    return (torch.randn(n, 3, generator=g, dtype=torch.float64),
            torch.randn(n, generator=g, dtype=torch.float64))


@pytest.mark.parametrize("chunk", [None, 3])
def test_per_example_variance_matches_a_loop(chunk):
    model, (x, y) = mlp(), data(10)
    got = per_example_variance(model, squared_error, (x, y), chunk=chunk)
    grads = {n: [] for n, _ in model.named_parameters()}
    for i in range(10):
        loss = squared_error(model(x[i:i + 1]), y[i:i + 1]).sum()
        for (n, _), gr in zip(model.named_parameters(),
                              torch.autograd.grad(loss, list(model.parameters())), strict=True):
            grads[n].append(gr)
    assert set(got) == set(grads)
    for n, gs in grads.items():
        assert torch.allclose(got[n], torch.stack(gs).var(0, correction=1))
    assert all(p.grad is None for p in model.parameters())


def test_microbatch_variance_is_unbiased():
    model, (x, y) = mlp(), data(32)
    pop = per_example_variance(model, squared_error, (x, y))
    target = sum(v.sum().item() for v in pop.values()) * 31 / 32  # population variance, summed
    g = torch.Generator().manual_seed(5)
    sums = []
    for _ in range(300):  # batches of 8 = 4 micro-batches of 2, drawn with replacement
        idx = torch.randint(32, (8,), generator=g)
        mv = microbatch_variance(model, squared_error, (x[idx], y[idx]), k=4)
        sums.append(sum(v.sum().item() for v in mv.values()))
    sums = torch.tensor(sums, dtype=torch.float64)
    se = sums.std().item() / math.sqrt(len(sums))
    assert abs(sums.mean().item() - target) < 5 * se
    assert abs(sums.mean().item() - 0.75 * target) > 2 * se  # the biased (k − 1)/k is told apart


def test_batchnorm_is_refused():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.Linear(4, 1)).double()
    x, y = data(8)
    for fn in (lambda: per_example_variance(model, squared_error, (x, y)),
               lambda: microbatch_variance(model, squared_error, (x, y), k=2)):
        with pytest.raises(ValueError, match="BatchNorm.*layer/group norm or spectral norm"):
            fn()


def test_state_dict_round_trip_continues_exactly():
    def steps(model, opt, n):
        out = []
        for _ in range(n):
            model.zero_grad()
            loss = squared_error(model(x), y).mean()
            loss.backward()
            opt.set_variance(by_parameter(model, per_example_variance(model, squared_error,
                                                                      (x, y))))
            opt.step()
            out.append([p.detach().clone() for p in model.parameters()])
        return out

    x, y = data(6)
    model = mlp()
    opt = sgld(model.parameters(), lr=0.01, noise="ccadl", batch_size=6, average="ema")
    opt.generator = torch.Generator().manual_seed(7)
    steps(model, opt, 3)
    buf = io.BytesIO()
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(),
                "rng": opt.generator.get_state()}, buf)
    first = steps(model, opt, 4)

    buf.seek(0)
    ckpt = torch.load(buf)
    model2 = mlp()
    model2.load_state_dict(ckpt["model"])
    opt2 = sgld(model2.parameters(), lr=0.01, noise="ccadl", batch_size=6, average="ema")
    opt2.generator = torch.Generator()
    opt2.generator.set_state(ckpt["rng"])
    opt2.load_state_dict(ckpt["opt"])
    second = steps(model2, opt2, 4)
    assert all(torch.equal(a, b) for s1, s2 in zip(first, second, strict=True)
               for a, b in zip(s1, s2, strict=True))
    assert opt2.state[next(iter(model2.parameters()))]["variance_count"] == 7


@pytest.mark.parametrize("options, name", [
    ({"lr": 0.0}, "lr"), ({"temperature": -1.0}, "temperature"), ({"noise": "fisher"}, "noise"),
    ({"prior_std": 0.0}, "prior_std"), ({"average": "median"}, "average"),
    ({"ema_decay": 1.0}, "ema_decay"), ({"batch_size": 0}, "batch_size"),
    ({"noise": "ccadl"}, "batch_size")])
def test_bad_options_name_the_option(options, name):
    with pytest.raises(ValueError, match=f"^{name}="):
        sgld([nn.Parameter(torch.zeros(2))], **options)


def test_registered_and_checked_by_the_config():
    from thermogan.experiment.build import call_component
    from thermogan.experiment.config import Component

    assert OPTIMIZERS["sgld"] is sgld
    params = [nn.Parameter(torch.zeros(2))]
    opt = call_component(OPTIMIZERS, Component(kind="sgld", lr=0.01, noise="ccadl",
                                               batch_size=64), "optim.d", params)
    assert isinstance(opt, SGLD) and opt.defaults["batch_size"] == 64
    with pytest.raises(Exception, match="optim.d.noise='fisher': expected one of isotropic, "
                                        "covariance, ccadl"):
        call_component(OPTIMIZERS, Component(kind="sgld", noise="fisher"), "optim.d", params)
    with pytest.raises(Exception, match="optim.d.batch_size"):
        call_component(OPTIMIZERS, Component(kind="sgld", noise="ccadl"), "optim.d", params)


def test_the_recorded_fast_path_equals_the_vmap_reference():
    """One backward pass and a batched product give the per-example variance of a model of
    linear layers and embeddings, also when each example spans several rows (D's pairs), and
    refuse other layers."""
    import torch.nn.functional as F

    from thermogan.nets.conditional import ProjectionDiscriminator
    from thermogan.optim.variance import linear_variance, recordable
    from thermogan.train.dvariance import PairD

    torch.manual_seed(0)
    mlp = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Linear(16, 8), nn.Tanh(),
                        nn.Linear(8, 1)).double()
    projection = ProjectionDiscriminator(mlp[:-1], mlp[-1], num_classes=5).double()

    def pair_loss(h, *_):
        return F.softplus(-h[:, 0]) + F.softplus(h[:, 1])

    x = torch.randn(24, 2, 2, dtype=torch.float64)
    y = torch.randint(5, (24, 2))
    for model, inputs, n in ((mlp, (x,), 1), (projection, (x, y), 2)):
        pairs = PairD(model)
        reference = per_example_variance(pairs, pair_loss, inputs, model_inputs=n)
        fast = linear_variance(pairs, pair_loss, inputs, model_inputs=n)
        assert fast.keys() == reference.keys()
        assert all(p.grad is None for p in model.parameters())  # the fast path leaves .grad
        for name in reference:
            assert torch.allclose(fast[name], reference[name], rtol=1e-9, atol=1e-14), name
    conv = nn.Sequential(nn.Conv2d(1, 2, 3), nn.Flatten(), nn.Linear(2, 1))
    assert recordable(mlp) and recordable(projection) and not recordable(conv)
    with pytest.raises(ValueError, match="nn.Linear"):
        linear_variance(conv, lambda h: h.sum(1), torch.randn(4, 1, 3, 3))
