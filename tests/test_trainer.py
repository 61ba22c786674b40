"""The trainer: exact resume in process, EMA, the tempering hook, the NaN guard."""

import json

import pytest
import torch

from thermogan.data.batch import Batch
from thermogan.errors import DivergenceError
from thermogan.experiment import build, config
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
    # then the decay warms up as min(decay, (1 + n) / (10 + n)) over the n averaged steps
    for n, decay in ((1, 2 / 11), (2, 3 / 12), (3, 4 / 13), (8, 0.5)):
        while int(trainer.G_ema.n_averaged) < n:
            trainer.train_step()
        before = [p.clone() for p in trainer.G_ema.module.parameters()]
        trainer.train_step()
        for old, g, new in zip(before, trainer.G.parameters(),
                               trainer.G_ema.module.parameters()):
            torch.testing.assert_close(new, decay * old + (1 - decay) * g)


def test_a_young_average_follows_g_and_an_old_one_keeps_its_decay():
    from thermogan.train.ema import warmed

    assert warmed(0.999, 1) == pytest.approx(2 / 11)
    assert warmed(0.999, 300) == pytest.approx(301 / 310)  # still warming up
    assert warmed(0.999, 10_000) == 0.999


class Shift(Tempering):
    """A tempering on both sides that records its steps and shifts by its level."""

    sides = ("real", "fake")

    def __init__(self, level):
        super().__init__()
        self.source, self.steps = level, []

    def set_step(self, step):
        self.steps.append(step)
        self.level.fill_(self.source(step))

    def forward(self, x, *, generator=None):
        return x + self.level


class RecordingPlayer:
    """A player that keeps every record it is handed and the state of D it saw."""

    name = "recorder"

    def __init__(self, log):
        self.log, self.records, self.count = log, [], 0

    def check(self, loss):
        self.loss = loss

    def update(self, d, discriminator, loss, generator=None):
        self.log.append("player")
        self.records.append(d)
        self.count += 1
        self.draw = torch.rand((), generator=generator)
        return {"recorder": torch.tensor(float(self.count))}

    def state_dict(self):
        return {"count": self.count}

    def load_state_dict(self, state):
        self.count = state["count"]


def seams_trainer(tiny_config, log, weight=0.5):
    from plugins import Pull, SignTracker

    from thermogan.objectives.terms import WeightedTerm
    from thermogan.schedules import Constant

    cfg = config.load(tiny_config)
    trainer = build.build_trainer(cfg)
    controller = SignTracker(rate=0.1, start=0.2)
    player = RecordingPlayer(log)
    return build_with(trainer, [Shift(controller)], [player],
                      [WeightedTerm(Pull(), Constant(weight))]), controller, player


def build_with(trainer, temperings, players, terms):
    from thermogan.train.trainer import Trainer

    return Trainer(trainer.G, trainer.D, trainer.data, z_dim=2, temperings=temperings,
                   players=players, g_terms=terms, batch_size=32, seed=5)


def test_the_step_runs_its_seams_in_order_and_hands_on_the_d_record(tiny_config):
    log = []
    trainer, controller, player = seams_trainer(tiny_config, log)
    trainer.D.register_forward_hook(lambda *_: log.append("D"))
    trainer.G.register_forward_hook(lambda *_: log.append("G"))
    observe = controller.observe
    controller.observe = lambda d: (log.append("controller"), observe(d))[1]
    out = trainer.train_step()
    # D step (G makes the fake batch, D scores both sides), controller, player, G step
    assert log == ["G", "D", "D", "controller", "player", "G", "D"]
    (d,) = player.records
    assert d.real_logits.shape == d.fake_logits.shape == (32,)
    assert torch.allclose(d.real_seen, d.real.x + 0.2)  # the level the controller gave
    assert torch.allclose(d.fake_seen, d.fake.x + 0.2)
    assert not d.real_seen.requires_grad and not d.fake.x.requires_grad
    assert out["d_real"].item() == pytest.approx(d.real_logits.mean().item())
    assert out["d_real_sign"].item() == pytest.approx(torch.sign(d.real_logits).mean().item())
    assert out["d_loss"].item() == pytest.approx(d.loss.item())
    assert controller.seen.item() == 1
    assert controller.value.item() == pytest.approx(
        0.2 + 0.1 * (torch.sign(d.real_logits).mean().item() - 0.6))
    assert {"g_pull", "recorder", "g_loss", "d_fake"} <= set(out)


def test_a_g_term_adds_its_weighted_value_to_gs_loss(tiny_config):
    """The G loss with the term is the adversarial loss plus weight × term, on the same batch."""
    log = []
    trainer, _, _ = seams_trainer(tiny_config, log, weight=0.5)
    out = trainer.train_step()
    assert out["g_loss"].item() != pytest.approx(out["g_pull"].item())
    plain, _, _ = seams_trainer(tiny_config, [], weight=0.0)
    plain_out = plain.train_step()
    assert "g_pull" not in plain_out  # a zero weight does not compute the term
    assert out["g_loss"].item() == pytest.approx(plain_out["g_loss"].item()
                                                 + 0.5 * out["g_pull"].item(), rel=1e-5)


def test_seams_resume_exactly(tiny_config):
    straight, _, _ = seams_trainer(tiny_config, [])
    for _ in range(20):
        straight.train_step()
    first, _, _ = seams_trainer(tiny_config, [])
    for _ in range(8):
        first.train_step()
    state = first.state_dict()
    assert state["players"] == {"recorder": {"count": 8}}
    second, controller, player = seams_trainer(tiny_config, [])
    second.load_state_dict(state)
    for _ in range(12):
        second.train_step()
    assert player.count == 20 and controller.seen.item() == 20
    assert torch.equal(straight.sample(64, seed=1), second.sample(64, seed=1))
    assert torch.equal(straight.temperings[0].source.value, controller.value)


def test_each_consumer_has_its_own_stream(tiny_config):
    """Adding a consumer (a tempering that draws noise) leaves the others' draws unchanged."""
    from thermogan.tempering.noise import InstanceNoise

    cfg = config.load(tiny_config)
    plain = build.build_trainer(cfg)
    noisy = build_with(build.build_trainer(cfg), [InstanceNoise(lambda step: 0.0)], [], [])
    plain = build_with(plain, [], [], [])
    a, b = plain.d_step(), noisy.d_step()
    assert torch.equal(a.real.x, b.real.x) and torch.equal(a.fake.x, b.fake.x)
    seeds = {name: gen.initial_seed() for name, gen in plain.rngs.items()}
    assert len(set(seeds.values())) == len(seeds)


class PoisonedAfter:
    """Data that turns into NaN after ``n`` batches."""

    def __init__(self, data, n):
        self.data, self.n, self.calls = data, n, 0

    def sample(self, n, generator=None, device=None):
        self.calls += 1
        batch = self.data.sample(n, generator, device)
        return Batch(batch.x * float("nan")) if self.calls > self.n else batch


def test_nan_stops_the_run_and_keeps_the_last_good_checkpoint(tiny_config, tmp_path):
    cfg = config.load(tiny_config)
    trainer = build.build_trainer(cfg)
    trainer.data = PoisonedAfter(trainer.data, 130)
    diverged = fit(trainer, tmp_path, steps=300, config=cfg.to_dict(), log_every=50,
                   checkpoint_every=100, progress=False, tensorboard=False)
    assert list(diverged) == [0] and isinstance(diverged[0], DivergenceError)
    message = str(diverged[0])
    assert "d_loss became nan at step 131" in message
    assert "latest.pt (step 100)" in message
    assert load_checkpoint(tmp_path / "checkpoints" / "latest.pt")["step"] == 100
    logged = [json.loads(line)["step"] for line in open(tmp_path / "metrics.jsonl")]
    assert logged == [50, 100]


def test_a_conditional_gan_learns_to_draw_the_class_it_is_given():
    """End to end: on the ring, labels are components; after 800 steps G(z, k) lands nearest to
    centre k for at least 90 % of 400 samples of every class (chance: 1/8). Binomial test."""
    from scipy.stats import binomtest

    cfg = config.load("configs/ring8_vanilla.yaml", [
        "train.steps=800", "train.batch_size=128", "model.conditional=true",
        "objective.loss=nonsaturating", "train.ema=null", "device=cpu"])
    trainer = build.build_trainer(cfg)
    for _ in range(800):
        trainer.train_step()
    centers = torch.as_tensor(trainer.data.centers, dtype=torch.float32)
    for k in range(8):
        hits = int((torch.cdist(trainer.sample(400, 0, labels=k), centers).argmin(1) == k).sum())
        assert binomtest(hits, 400, 0.9, alternative="less").pvalue > 1e-3, (k, hits)


def test_progress_on_a_non_terminal_is_one_line_per_log_line(tiny_config, tmp_path, capfd):
    """Captured stderr is not a TTY: 300 steps logged every 50 print 6 plain lines, not hundreds
    of redrawn bars."""
    cfg = config.load(tiny_config)
    trainer = build.build_trainer(cfg)
    fit(trainer, tmp_path, steps=300, config=cfg.to_dict(), log_every=50, checkpoint_every=300,
        progress=True, tensorboard=False)
    err = capfd.readouterr().err
    assert "\r" not in err
    lines = err.splitlines()
    assert len(lines) == 300 // 50
    assert lines[0].startswith("tiny: step 50/300, ") and "d_loss=" in lines[0]
    assert lines[-1].startswith("tiny: step 300/300, ")


def test_metrics_log_writes_non_finite_numbers_as_strings(tmp_path):
    from thermogan.jsonio import restore_floats
    from thermogan.train.logging import MetricsLog

    log = MetricsLog(tmp_path, tensorboard=False)
    log.write({"step": 1, "d_loss": float("nan"), "g_loss": float("inf"), "lr": -float("inf")})
    log.close()
    line = (tmp_path / "metrics.jsonl").read_text()
    record = json.loads(line)
    assert (record["d_loss"], record["g_loss"], record["lr"]) == ("nan", "inf", "-inf")
    back = restore_floats(record)
    assert back["d_loss"] != back["d_loss"] and back["g_loss"] == float("inf")
    assert back["lr"] == -float("inf") and back["step"] == 1
