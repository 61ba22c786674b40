"""The trainer: exact resume in process, EMA, the tempering hook, the NaN guard."""

import json

import pytest
import torch

from thermogan.experiment import build, config
from thermogan.errors import DivergenceError
from thermogan.tempering.base import Tempering
from thermogan.train.checkpoint import load_checkpoint, save_checkpoint
from thermogan.train.loop import fit


def params(module):
    return [p.detach().clone() for p in module.state_dict().values()]


def test_resume_from_a_saved_state_is_bit_identical(tiny_config, tmp_path):
    cfg = config.load(tiny_config, ["train.d_steps=2"])
    straight = build.build_trainer(cfg)
    for _ in range(40):
        straight.train_step()

    first = build.build_trainer(cfg)
    for _ in range(17):
        first.train_step()
    save_checkpoint({**first.state_dict(), "config": cfg.to_dict()}, tmp_path / "c.pt")
    torch.manual_seed(12345)  # disturb the global generator: the checkpoint must restore it
    second = build.build_trainer(config.load(tiny_config, ["train.d_steps=2", "seed=99"]))
    second.load_state_dict(load_checkpoint(tmp_path / "c.pt"))
    for _ in range(23):
        second.train_step()

    assert second.step == straight.step == 40
    for a, b in zip(params(straight.G) + params(straight.D) + params(straight.G_ema),
                    params(second.G) + params(second.D) + params(second.G_ema)):
        assert torch.equal(a, b)
    assert torch.equal(straight.sample(100, seed=5), second.sample(100, seed=5))


def test_lr_schedule_is_applied_at_the_trainers_step(tiny_config):
    trainer = build.build_trainer(config.load(tiny_config))
    for _ in range(150):
        trainer.train_step()
    # the last step ran at step 149: factor 1 − 0.5·149/300
    assert trainer.g_opt.param_groups[0]["lr"] == pytest.approx(1e-3 * (1 - 0.5 * 149 / 300))


def test_ema_tracks_the_generator(tiny_config):
    trainer = build.build_trainer(config.load(tiny_config, ["train.ema=0.5"]))
    trainer.train_step()
    assert all(torch.equal(a, b) for a, b in zip(trainer.G.parameters(),
                                                 trainer.G_ema.module.parameters()))
    before = [p.clone() for p in trainer.G_ema.module.parameters()]
    trainer.train_step()
    for old, g, new in zip(before, trainer.G.parameters(), trainer.G_ema.module.parameters()):
        assert torch.allclose(new, 0.5 * old + 0.5 * g)


class Recording(Tempering):
    """A tempering that shifts real data, counts its update calls and records its steps."""

    def __init__(self):
        super().__init__()
        self.steps, self.updates = [], 0

    def set_step(self, step):
        self.steps.append(step)
        self.level.fill_(step)

    def forward(self, x, *, generator=None):
        return x + 100.0

    def update(self, real, discriminator, adversarial):
        self.updates += 1
        return {"tempering_loss": torch.tensor(0.0)}


def test_tempering_hook_sees_every_step(tiny_config):
    trainer = build.build_trainer(config.load(tiny_config))
    trainer.tempering = Recording()
    out = [trainer.train_step() for _ in range(3)]
    assert trainer.tempering.steps == [0, 1, 2] and trainer.tempering.updates == 3
    assert "tempering_loss" in out[0]
    assert trainer.state_dict()["tempering"]["level"].item() == 2


class PoisonedAfter:
    """Data that turns into NaN after ``n`` batches."""

    def __init__(self, data, n):
        self.data, self.n, self.calls = data, n, 0

    def sample(self, n, generator=None, device=None):
        self.calls += 1
        x = self.data.sample(n, generator, device)
        return x * float("nan") if self.calls > self.n else x


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tiny_config, tmp_path):
    cfg = config.load(tiny_config)
    trainer = build.build_trainer(cfg)
    trainer.data = PoisonedAfter(trainer.data, 130)
    with pytest.raises(DivergenceError) as info:
        fit(trainer, tmp_path, steps=300, config=cfg.to_dict(), log_every=50,
            checkpoint_every=100, progress=False, tensorboard=False)
    message = str(info.value)
    assert "d_loss became nan at step 131" in message
    assert "latest.pt (step 100)" in message
    assert load_checkpoint(tmp_path / "checkpoints" / "latest.pt")["step"] == 100
    logged = [json.loads(line)["step"] for line in open(tmp_path / "metrics.jsonl")]
    assert logged == [50, 100]
