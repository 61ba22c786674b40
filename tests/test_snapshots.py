"""Snapshots (report/snapshots.py): each tempering's describe() kept whole, as it was in the step
that has just run, and taking one changes nothing in the run."""

import json

import pytest
import torch
from torch import nn

from thermogan.data.batch import Batch
from thermogan.report.snapshots import Snapshots, _title, load_shots, periodic_snapshots
from thermogan.schedules import Linear
from thermogan.tempering.blur import Blur
from thermogan.tempering.control import level_source
from thermogan.tempering.noise import InstanceNoise
from thermogan.train.trainer import Trainer


class Squares:
    """Tiny 8×8 images: a bright square at a random place."""

    is_image = True

    def sample(self, n, generator=None, device=None):
        x = -torch.ones(n, 1, 8, 8)
        at = torch.randint(0, 6, (n, 2), generator=generator)
        for i, (r, c) in enumerate(at.tolist()):
            x[i, 0, r:r + 3, c:c + 3] = 1.0
        return Batch(x, None)


def blurred_run(noise=None):
    """A blur and instance noise (by default on schedules), and a learning-rate schedule."""
    torch.manual_seed(0)
    G = nn.Sequential(nn.Linear(4, 64), nn.Tanh(), nn.Unflatten(1, (1, 8, 8)))
    D = nn.Sequential(nn.Flatten(), nn.Linear(64, 1))
    noise = InstanceNoise(noise or Linear(0.2, 0.0, 10))
    return Trainer(G, D, Squares(), z_dim=4, batch_size=8, lr_schedule=Linear(1.0, 0.1, 10),
                   temperings=[Blur(Linear(1.5, 0.5, 10)), noise])


def test_a_snapshot_keeps_each_temperings_levels_of_the_step_just_run(tmp_path):
    trainer = blurred_run()
    callback = periodic_snapshots(tmp_path, every=2, total_steps=4, n=4, seed=1)
    for _ in range(4):
        trainer.train_step()
        callback(trainer)
    shots = load_shots(tmp_path)
    assert [int(s["step"]) for s in shots] == [2, 4]
    for shot in shots:  # step N's snapshot: the levels of step N − 1, σ and the std, in order
        done = int(shot["step"]) - 1
        levels = json.loads(str(shot["levels"]))
        assert levels == [{"blur_sigma": pytest.approx(1.5 - 0.1 * done)},
                          {"noise_std": pytest.approx(0.2 - 0.02 * done)}]
        assert f"blur_sigma = {1.5 - 0.1 * done:.3g}" in _title({**shot, "updates": 2 * done})


def test_taking_snapshots_moves_nothing_in_the_run(tmp_path):
    """Not the levels (an adaptive noise std moves at each step), not the learning rates (a
    schedule), not a random stream: a run with a snapshot after every step trains exactly as one
    without."""
    def adaptive():
        return level_source({"kind": "adaptive", "interval": 1, "images": 16, "start": 0.5},
                            "std", hot=0.3)

    plain, watched = blurred_run(adaptive()), blurred_run(adaptive())
    callback = Snapshots(tmp_path, lambda trainer: True, n=4, seed=1)
    for _ in range(5):
        plain.train_step()
        watched.train_step()
        lrs = [g["lr"] for opt in (watched.g_opt, watched.d_opt) for g in opt.param_groups]
        levels = [t.value for t in watched.temperings]
        assert watched.controllers[0].describe()["heat_u"] != 0.5  # it moved since its step
        callback(watched)
        assert lrs == [g["lr"] for opt in (watched.g_opt, watched.d_opt)
                       for g in opt.param_groups]
        assert levels == [t.value for t in watched.temperings]
    assert len(list(tmp_path.glob("step_*.npz"))) == 5
    for a, b in zip((*plain.G.parameters(), *plain.D.parameters()),
                    (*watched.G.parameters(), *watched.D.parameters())):
        assert torch.equal(a, b)
    for name, stream in plain.rngs.items():
        assert torch.equal(stream.get_state(), watched.rngs[name].get_state()), name
