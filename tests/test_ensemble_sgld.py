"""SGLD over stacked members' parameters (one noise stream per member), and the optimizers that
cannot be stacked."""

import pytest
import torch
from torch import nn

from thermogan.experiment import build, config
from thermogan.optim.sgld import SGLD
from thermogan.train.ensemble import unsupported
from thermogan.train.trainer import Trainer

SHAPES = [(4, 3), (4,)]


@pytest.mark.parametrize("noise", ["isotropic", "covariance", "ccadl"])
def test_sgld_over_stacked_parameters_steps_each_member_as_its_own(noise):
    """Slice s of every stacked parameter gets what member s's own SGLD gives it: the noise from
    its own generator, its own running variance, its own logged noise level."""
    members = 3
    init = torch.Generator().manual_seed(0)
    weights = [[torch.randn(shape, generator=init) for shape in SHAPES] for _ in range(members)]
    options = dict(lr=0.1, temperature=0.5, noise=noise, batch_size=4)
    singles = [[nn.Parameter(w.clone()) for w in ws] for ws in weights]
    single_opts = [SGLD(ps, generator=torch.Generator().manual_seed(s), **options)
                   for s, ps in enumerate(singles)]
    stacked = [nn.Parameter(torch.stack([ws[i] for ws in weights])) for i in range(len(SHAPES))]
    opt = SGLD(stacked, generator=[torch.Generator().manual_seed(s) for s in range(members)],
               **options)
    for _ in range(3):
        grads = [[torch.randn(shape, generator=init) for shape in SHAPES] for _ in range(members)]
        variances = [[torch.rand(shape, generator=init) for shape in SHAPES]
                     for _ in range(members)]
        for ps, o, gs, vs in zip(singles, single_opts, grads, variances):
            for p, g in zip(ps, gs):
                p.grad = g
            o.set_variance(dict(zip(ps, vs)))
            o.step()
        for i, p in enumerate(stacked):
            p.grad = torch.stack([gs[i] for gs in grads])
        opt.set_variance({p: torch.stack([vs[i] for vs in variances])
                          for i, p in enumerate(stacked)})
        opt.step()
    for s, (ps, o) in enumerate(zip(singles, single_opts)):
        for i, p in enumerate(ps):
            torch.testing.assert_close(stacked[i][s], p)
            torch.testing.assert_close(opt.state[stacked[i]]["variance_avg"][s],
                                       o.state[p]["variance_avg"])
        assert opt.noise_level(s) == pytest.approx(o.noise_level())
    assert not torch.equal(stacked[0][0], stacked[0][1])


def test_one_generator_per_member_is_checked_before_any_update():
    p = nn.Parameter(torch.zeros(3, 2))
    p.grad = torch.ones(3, 2)
    opt = SGLD([p], lr=0.1, generator=[torch.Generator(), torch.Generator()])
    with pytest.raises(ValueError, match=r"2 generators \(one per member\) for a parameter of "
                                         r"shape \(3, 2\)"):
        opt.step()
    assert torch.equal(p, torch.zeros(3, 2))


def test_an_optimizer_that_is_not_elementwise_is_refused(tiny_config):
    built = build.build_trainer(config.load(tiny_config))
    trainer = Trainer(built.G, built.D, built.data, z_dim=built.z_dim,
                      d_optimizer=torch.optim.LBFGS(built.D.parameters()))
    assert "optimizer LBFGS" in unsupported(trainer)


def test_optimizers_with_several_parameter_groups_are_not_stacked(tiny_config):
    built = build.build_trainer(config.load(tiny_config))
    groups = [{"params": [p]} for p in built.D.parameters()]
    trainer = Trainer(built.G, built.D, built.data, z_dim=built.z_dim,
                      d_optimizer=torch.optim.Adam(groups))
    assert "several parameter groups" in unsupported(trainer)


def test_an_sgld_d_outside_the_taps_stacks_with_torch_funcs_per_example_variance(tiny_config):
    """A D with a layer norm (not a Linear or Embedding layer) takes its per-example variance
    from torch.func, in a single run and, vmapped over the members, stacked: each member's
    weights and SGLD's averaged variance follow its single run."""
    from thermogan.optim.variance import recordable
    from thermogan.train.ensemble import Stacked
    from thermogan.train.members import Members

    def trainer(seed):
        built = build.build_trainer(config.load(tiny_config, [f"seed={seed}"]))
        torch.manual_seed(seed)
        d = nn.Sequential(nn.Linear(2, 8), nn.LayerNorm(8), nn.ReLU(), nn.Linear(8, 1))
        opt = SGLD(d.parameters(), lr=0.01, temperature=1e-3, noise="ccadl", batch_size=32)
        return Trainer(built.G, d, built.data, z_dim=built.z_dim, d_optimizer=opt,
                       batch_size=32, ema=0.9, seed=seed)

    singles, members = [trainer(s) for s in (0, 1)], [trainer(s) for s in (0, 1)]
    assert not recordable(singles[0].D) and singles[0].d_variance.recorder is None
    for t in singles:
        for _ in range(6):
            t.train_step()
    stacked = Members(members)
    assert isinstance(stacked.nets, Stacked)
    for _ in range(6):
        stacked.train_step()
    stacked.sync()
    for single, member in zip(singles, members):
        for a, b in zip(single.D.parameters(), member.D.parameters(), strict=True):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-6)
        for p, q in zip(single.d_opt.state.values(), member.d_opt.state.values(), strict=True):
            torch.testing.assert_close(p["variance_avg"], q["variance_avg"], rtol=1e-4,
                                       atol=1e-9)
            assert p["variance_avg"].abs().sum() > 0
