"""Seed ensembles: each member follows its single run, and an ensemble resumes exactly."""

import pytest
import torch

from thermogan.experiment import build, config
from thermogan.train.checkpoint import load_checkpoint, save_checkpoint
from thermogan.train.ensemble import Ensemble

SEEDS = (0, 1, 2)


def _trainers(tiny_config, extra=()):
    cfg = config.load(tiny_config, list(extra))
    return cfg, [build.build_trainer(cfg.model_copy(update={"seed": s})) for s in SEEDS]


def _state(trainer):
    nets = (trainer.G, trainer.D, trainer.G_ema.module)
    return [p.detach() for net in nets for p in net.parameters()]


@pytest.mark.parametrize("extra", [(), ("optim.d={kind: sgd, lr: 0.01, momentum: 0.5}",
                                        "train.d_steps=2")])
def test_each_member_follows_its_single_run(tiny_config, extra):
    _, singles = _trainers(tiny_config, extra)
    for trainer in singles:
        for _ in range(25):
            trainer.train_step()
    _, members = _trainers(tiny_config, extra)
    ensemble = Ensemble(members)
    for _ in range(25):
        logs = ensemble.train_step()
    assert logs["d_loss"].shape == (len(SEEDS),)
    ensemble.sync()
    for single, member in zip(singles, members):
        assert member.step == single.step == 25
        for a, b in zip(_state(single), _state(member)):
            torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-5)  # rounding only
        for p, q in zip(single.d_opt.state.values(), member.d_opt.state.values()):
            for key in p:
                torch.testing.assert_close(p[key], q[key], rtol=1e-4, atol=1e-6)
    # the members differ from each other (own weights and streams)
    assert not torch.equal(_state(members[0])[0], _state(members[1])[0])


def test_an_ensemble_resumes_exactly_from_its_members_checkpoints(tiny_config, tmp_path):
    cfg, straight = _trainers(tiny_config)
    ensemble = Ensemble(straight)
    for _ in range(30):
        ensemble.train_step()
    ensemble.sync()

    _, first = _trainers(tiny_config)
    ensemble = Ensemble(first)
    for _ in range(12):
        ensemble.train_step()
    for seed, member in zip(SEEDS, ensemble.sync()):
        save_checkpoint({**member.state_dict(), "config": cfg.to_dict()}, tmp_path / f"{seed}.pt")
    _, again = _trainers(tiny_config)
    for seed, member in zip(SEEDS, again):
        member.load_state_dict(load_checkpoint(tmp_path / f"{seed}.pt"))
    ensemble = Ensemble(again)
    for _ in range(18):
        ensemble.train_step()
    ensemble.sync()
    for a, b in zip(straight, again):
        for p, q in zip(_state(a), _state(b)):
            assert torch.equal(p, q)


@pytest.mark.parametrize("override, words", [
    ("tempering={kind: instance_noise}", "temperings"),
    ("objective.loss=wgan-gp", "a gradient penalty"),
    ("optim.d={kind: sgld, lr: 0.01}", "optimizer SGLD"),
])
def test_what_an_ensemble_cannot_do_yet_is_refused_with_the_reason(tiny_config, override, words):
    _, members = _trainers(tiny_config, [override])
    with pytest.raises(ValueError, match=words):
        Ensemble(members)
