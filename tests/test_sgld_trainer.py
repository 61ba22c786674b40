"""An SGLD discriminator inside the trainer: the variance it is handed, its seeded noise, exact
resume, the BatchNorm refusal and the logged noise level."""

import copy

import pytest
import torch
from helpers import straight_and_resumed
from torch import nn

from thermogan.errors import ConfigError
from thermogan.experiment import build, config
from thermogan.optim.sgld import SGLD
from thermogan.train.trainer import Trainer

COVARIANCE = "optim.d={kind: sgld, lr: 1.0e-3, noise: covariance}"


def sgld_config(tiny_config, spec=COVARIANCE, *extra):
    return config.load(tiny_config, [spec, "train.batch_size=16", *extra])


@pytest.mark.parametrize("extra", [[], ["objective.loss=wgan-gp"], ["model.conditional=true"],
                                   ["optim.d={kind: sgld, lr: 1.0e-3, noise: covariance, "
                                    "variance: {kind: microbatch, microbatches: 16}}"]],
                         ids=["minimax", "wgan_gp", "conditional", "microbatches_of_one"])
def test_the_d_step_hands_the_per_pair_gradient_variance_to_the_optimizer(tiny_config, extra):
    """The variance from D's own backward (the fast path; with a gradient penalty its mean is
    computed, not D's gradient; a projection D's embedding too) and micro-batches of one pair
    each equal a Python loop over the pairs (real_i, fake_i)."""
    trainer = build.build_trainer(sgld_config(tiny_config, COVARIANCE, *extra))
    assert (trainer.d_variance.recorder is None) == (extra[-1:] != [] and "microbatch" in
                                                     extra[-1])
    handed = []
    set_variance = trainer.d_opt.set_variance
    trainer.d_opt.set_variance = lambda v: (handed.append(v), set_variance(v))[1]
    D = copy.deepcopy(trainer.D)  # D's weights when the variance is computed
    d = trainer.d_step()
    # reference: a Python loop over the pairs (real_i, fake_i)
    grads = []
    labels = zip(d.real.y, d.fake.y) if d.real.y is not None else [((), ())] * len(d.real_seen)
    for xr, xf, (yr, yf) in zip(d.real_seen, d.fake_seen, labels):
        yr, yf = ([] if y == () else [y[None]] for y in (yr, yf))
        loss = (trainer.loss.real_term(D(xr[None], *yr))
                + trainer.loss.fake_term(D(xf[None], *yf))).sum()
        grads.append(torch.autograd.grad(loss, list(D.parameters())))
    (variance,) = handed
    assert not all(torch.equal(a, b) for a, b in zip(D.parameters(), trainer.D.parameters()))
    for i, p in enumerate(trainer.D.parameters()):
        expected = torch.stack([g[i] for g in grads]).var(0, correction=1)
        assert torch.allclose(variance[p], expected, rtol=1e-4, atol=1e-10)


def test_an_sgld_d_resumes_exactly_and_logs_its_noise(tiny_config):
    cfg = sgld_config(tiny_config, "optim.d={kind: sgld, lr: 1.0e-3, noise: ccadl, "
                                   "batch_size: 16, variance: {kind: microbatch, "
                                   "microbatches: 4}}")
    straight, second = straight_and_resumed(lambda: build.build_trainer(cfg), 12, 5)
    assert torch.equal(straight.sample(50, seed=1), second.sample(50, seed=1))
    for a, b in zip(straight.D.parameters(), second.D.parameters()):
        assert torch.equal(a, b)
    levels = straight.describe()
    assert levels["d_noise_std"] > 0 and levels["d_sqrt_variance"] > 0
    assert isinstance(straight.d_opt, SGLD) and straight.d_opt.generator is straight.rngs[
        "optim.d"]


def test_seeds_give_different_noise_and_isotropic_needs_no_variance(tiny_config):
    cfg = sgld_config(tiny_config, "optim.d={kind: sgld, lr: 1.0e-3}")
    trainer = build.build_trainer(cfg)
    assert trainer.d_variance is None  # isotropic noise: no per-example gradients computed
    other = build.build_trainer(config.load(tiny_config, ["optim.d={kind: sgld, lr: 1.0e-3}",
                                                          "train.batch_size=16", "seed=4"]))
    assert trainer.rngs["optim.d"].initial_seed() != other.rngs["optim.d"].initial_seed()


def test_a_batchnorm_d_is_refused_with_the_fix():
    G, D = nn.Linear(2, 2), nn.Sequential(nn.Linear(2, 8), nn.BatchNorm1d(8), nn.Linear(8, 1))
    from thermogan.data.toy import ring

    opt = SGLD(D.parameters(), 1e-3, noise="covariance")
    with pytest.raises(ConfigError, match="norm: none"):
        Trainer(G, D, ring(), z_dim=2, d_optimizer=opt)


def test_the_langevin_contract_is_declared_and_only_sgld_meets_it():
    from thermogan.optim import OPTIMIZERS
    from thermogan.optim.estimators import Microbatch, PerExample
    from thermogan.optim.langevin import Langevin

    params = [nn.Parameter(torch.zeros(2))]
    opt = OPTIMIZERS["sgld"](params, variance=Microbatch(4))
    assert isinstance(opt, Langevin) and opt.variance == Microbatch(4)
    assert OPTIMIZERS["sgld"](params).variance == PerExample()
    assert not any(isinstance(OPTIMIZERS[kind](params), Langevin) for kind in ("adam", "sgd"))
    with pytest.raises(ValueError, match="microbatches=1: must be >= 2"):
        Microbatch(1)


def test_the_variance_estimator_is_a_component_and_its_old_spelling_is_refused(tiny_config):
    from thermogan.optim.estimators import Microbatch, PerExample

    def estimator(variance):
        spec = f"optim.d={{kind: sgld, lr: 1.0e-3, noise: covariance{variance}}}"
        return build.build_trainer(sgld_config(tiny_config, spec)).d_opt.variance

    assert estimator("") == PerExample()
    assert estimator(", variance: {kind: per_example, chunk: 4}") == PerExample(4)
    assert estimator(", variance: {kind: microbatch, microbatches: 4}") == Microbatch(4)
    with pytest.raises(ConfigError, match="kind 'micro' at optim.d.variance; did you mean "
                                          "'microbatch'"):
        estimator(", variance: {kind: micro}")
    with pytest.raises(ConfigError, match="optim.d.variance.microbatches=1: must be >= 2"):
        estimator(", variance: {kind: microbatch, microbatches: 1}")
    with pytest.raises(ConfigError, match="'optim.d.variance.chunk'; valid: kind, microbatches"):
        estimator(", variance: {kind: microbatch, chunk: 4}")
    with pytest.raises(ConfigError, match="optim.d.variance=3: expected {kind: per_example"):
        estimator(", variance: 3")
    for old in (", variance: microbatch", ", microbatches: 4", ", chunk: 8"):
        with pytest.raises(ConfigError, match=r"^optim.d: \{.*\} was replaced by "
                                              r"optim.d.variance: \{kind: per_example"):
            estimator(old)


def test_a_langevin_temperature_is_a_level_written_each_step_and_logged(tiny_config):
    """optim.d.temperature as a schedule moves the optimizer's temperature at every step (the
    learning rates' way) and is logged as d_temperature; as a controller it is checkpointed."""
    schedule = "{kind: linear, start: 0.1, end: 0.0, steps: 10}"
    trainer = build.build_trainer(sgld_config(
        tiny_config, f"optim.d={{kind: sgld, lr: 1.0e-3, temperature: {schedule}}}"))
    assert trainer.d_opt.param_groups[0]["temperature"] == pytest.approx(0.1)
    for _ in range(4):
        trainer.train_step()
    # the last step ran at step 3: 0.1 · (1 − 3/10)
    assert trainer.d_opt.param_groups[0]["temperature"] == pytest.approx(0.07)
    assert trainer.describe()["d_temperature"] == pytest.approx(0.07)
    controlled = build.build_trainer(sgld_config(
        tiny_config, "optim.d={kind: sgld, lr: 1.0e-3, temperature: {kind: constant_controller, "
                     "value: 0.05}}"))
    assert controlled.state_dict()["optim_levels"]["0.value"] == pytest.approx(0.05)
    with pytest.raises(ConfigError, match="optim.d.temperature"):
        build.build_trainer(sgld_config(tiny_config, "optim.d={kind: sgld, temperature: "
                                                     "{kind: linearr}}"))
    with pytest.raises(ConfigError, match="temperature"):  # Adam has none: an unknown key
        build.build_trainer(sgld_config(tiny_config, f"optim.d={{kind: adam, temperature: "
                                                     f"{schedule}}}"))
