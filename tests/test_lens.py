"""The lens (Tempered Adversarial Networks): identity at start, its loss per GAN variant by hand,
λ(t), the update order inside the trainer, checkpoints and the same-initial-weights property."""

import math

import pytest
import torch
from torch import nn

from thermogan.data.batch import Batch
from thermogan.experiment import build, config
from thermogan.objectives.adversarial import get_loss
from thermogan.schedules import SineDecay
from thermogan.step import DStep
from thermogan.tempering.lens import Lens, LensNet
from thermogan.train.checkpoint import load_checkpoint, save_checkpoint


class Shape:
    def __init__(self, *shape):
        self.shape = shape


def lens(total_steps, data, **options):
    return Lens.for_run(total_steps, data, **options)


@pytest.mark.parametrize("shape", [(2,), (1, 32, 32), (3, 16, 16)])
def test_lens_is_the_identity_at_start_and_keeps_shapes(shape):
    tempering = lens(1000, Shape(*shape), width=8, blocks=8)
    x = torch.randn(4, *shape)
    assert torch.equal(tempering(x), x)
    image_convs = [m for m in tempering.net.modules() if isinstance(m, nn.Conv2d)]
    if len(shape) == 3:  # 8 residual blocks of two 3×3 stride-1 convolutions, plus in and out
        assert len(image_convs) == 18
        assert all(c.kernel_size == (3, 3) and c.stride == (1, 1) for c in image_convs)


def shifted_lens(weight, shift=(1.0, 0.0, 0.0)):
    """A lens whose output is exactly x + shift (zero weights, bias = shift)."""
    net = LensNet((3,), width=4, blocks=1)
    with torch.no_grad():
        net.out.bias.copy_(torch.tensor(shift))
    return Lens(net, weight)


@pytest.mark.parametrize("loss, adv", [("minimax", math.log1p(math.exp(2.0))),  # −log(1 − D)
                                       ("nonsaturating", math.log1p(math.exp(2.0))),
                                       ("lsgan", 0.5 * 4.0),  # ½D², LSGAN's fake term
                                       ("wgan-gp", 2.0), ("wgan", 2.0),  # D
                                       ("hinge", 3.0),  # relu(1 + D)
                                       ("rkl", -2.0)])  # −D: rkl's fake side is high logits
def test_lens_loss_per_variant_by_hand(loss, adv):
    D = nn.Linear(3, 1)
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[2.0, 0.0, 0.0]]))
        D.bias.zero_()
    tempering = shifted_lens(SineDecay(horizon=100))
    tempering.set_step(50)  # λ = 1 − sin(π/4)
    real = torch.zeros(5, 3)
    lensed = tempering(real)  # every row (1, 0, 0): D's logit 2, squared error 1
    total, got_adv, recon = tempering.loss(real, lensed, D, get_loss(loss))
    lam = 1 - math.sin(math.pi / 4)
    assert got_adv.item() == pytest.approx(adv)
    assert recon.item() == pytest.approx(1.0)
    assert total.item() == pytest.approx(lam * adv + 1.0)


def test_reconstruction_sums_or_averages_each_samples_squared_error():
    real = torch.zeros(2, 3)
    lensed = torch.tensor([[1.0, 2.0, 2.0], [0.0, 0.0, 3.0]])  # squared errors 9 and 9 per row
    D = nn.Linear(3, 1)
    for recon, expected in (("sum", 9.0), ("mean", 3.0)):
        tempering = Lens(LensNet((3,), 4, 1), SineDecay(horizon=10), recon=recon)
        assert tempering.loss(real, lensed, D, get_loss("lsgan"))[2].item() == expected
    with pytest.raises(ValueError, match="recon='max'"):
        lens(10, Shape(3), recon="max")


def test_lambda_schedule_and_fixed_weight():
    tempering = lens(1000, Shape(2), weight={"kind": "sine_decay", "horizon": 400})
    values = []
    for step in (0, 100, 200, 400, 800):
        tempering.set_step(step)
        values.append(tempering.describe()["lambda"])
    expected = [1.0, 1 - math.sin(math.pi / 8), 1 - math.sin(math.pi / 4), 0.0, 0.0]
    assert values == pytest.approx(expected)
    fixed = lens(1000, Shape(2), weight=1.0)
    fixed.set_step(10**6)
    assert fixed.describe()["lambda"] == 1.0
    default = lens(1000, Shape(2))
    default.set_step(5000)  # default horizon K = 10⁴
    assert default.describe()["lambda"] == pytest.approx(1 - math.sin(math.pi / 4))


def test_lens_in_ones_own_loop_without_detach_still_steps_correctly():
    """The natural loop D(lens(x)) → D's backward → the lens's update: D's backward consumed the
    lens's graph; the player notices and computes L(x) again. D is left untouched."""
    torch.manual_seed(0)
    tempering = lens(100, Shape(3), width=4, blocks=1, lr=1e-2)
    (player,) = tempering.players()
    D = nn.Linear(3, 1)
    x = torch.randn(16, 3)
    seen = tempering(x)
    D(seen).mean().backward()  # a D step that forgot .detach()
    d_state = {k: v.clone() for k, v in D.state_dict().items()}
    d_grads = [p.grad.clone() for p in D.parameters()]
    empty = torch.zeros(16)
    before = [p.clone() for p in tempering.parameters()]
    out = player.update(DStep(Batch(x), Batch(x), seen.detach(), x, empty, empty,
                              torch.zeros(())), D, get_loss("minimax"))
    assert {"lens_adv", "lens_recon"} == set(out)
    assert any(not torch.equal(a, b) for a, b in zip(before, tempering.parameters()))
    assert all(torch.equal(v, D.state_dict()[k]) for k, v in d_state.items())
    assert all(torch.equal(g, p.grad) for g, p in zip(d_grads, D.parameters()))
    assert all(p.grad is None for p in tempering.parameters())


def lens_config(tiny_config, *extra):
    return config.load(tiny_config, ["tempering={kind: lens, width: 16, blocks: 2, lr: 1e-3}",
                                     *extra])


def test_trainer_computes_the_lens_once_per_step_in_the_papers_order(tiny_config):
    trainer = build.build_trainer(lens_config(tiny_config))
    calls, order = [], []
    lensed = trainer.temperings[0]
    lensed.net.register_forward_hook(lambda *_: calls.append(1))
    for name, net in (("D", trainer.D), ("G", trainer.G)):
        net.register_forward_hook(lambda *_, n=name: order.append(n))
    optimizer = trainer.players["lens"].optimizer
    opt_step = optimizer.step
    optimizer.step = lambda: (order.append("lens"), opt_step())
    before = [p.clone() for p in lensed.parameters()]
    out = trainer.train_step()
    assert len(calls) == 1  # L(x) once per step
    assert order.index("lens") > order.index("D") and order[-1] == "D"  # D, lens, then G's D pass
    assert "G" in order[order.index("lens"):]
    assert any(not torch.equal(a, b) for a, b in zip(before, lensed.parameters()))
    assert {"lens_adv", "lens_recon"} <= set(out)


def test_lens_resumes_exactly_from_a_checkpoint(tiny_config, tmp_path):
    cfg = lens_config(tiny_config)
    straight = build.build_trainer(cfg)
    for _ in range(6):
        straight.train_step()
    first = build.build_trainer(cfg)
    for _ in range(3):
        first.train_step()
    save_checkpoint({**first.state_dict(), "config": cfg.to_dict()}, tmp_path / "c.pt")
    resumed = build.build_trainer(cfg)
    resumed.load_state_dict(load_checkpoint(tmp_path / "c.pt"))
    assert resumed.players["lens"].optimizer.state_dict()["state"]  # Adam moments came back
    for _ in range(3):
        resumed.train_step()
    for a, b in zip(straight.temperings.state_dict().values(),
                    resumed.temperings.state_dict().values()):
        assert torch.equal(a, b)


def test_runs_with_and_without_the_lens_start_from_the_same_weights(tiny_config):
    plain = build.build_trainer(config.load(tiny_config))
    lensed = build.build_trainer(lens_config(tiny_config))
    for a, b in ((plain.G, lensed.G), (plain.D, lensed.D)):
        for (name, x), (_, y) in zip(a.state_dict().items(), b.state_dict().items()):
            assert torch.equal(x, y), name


def test_wgan_gp_penalises_interpolates_between_lensed_data_and_fakes(tiny_config, monkeypatch):
    """The penalty gets L(x), not x, as its real end; with 3 critic steps L(x) keeps a graph only
    in the last one, and the lens step reuses that batch."""
    trainer = build.build_trainer(lens_config(tiny_config, "objective.loss=wgan-gp",
                                              "train.d_steps=3"))
    lensed = trainer.temperings[0]
    with torch.no_grad():  # a lens that visibly moves the data: L(x) = x + 0.5
        lensed.net.out.bias.fill_(0.5)
    seen, graphs = [], []
    penalty = trainer.penalty
    monkeypatch.setattr(trainer, "penalty",  # real (S, B, ...): one member
                        lambda critic, real, *a: (seen.append(real[0]),
                                                  penalty(critic, real, *a))[1])
    lensed.net.register_forward_hook(
        lambda _m, inputs, out: graphs.append((inputs[0], out.detach().clone(), out.requires_grad)))
    take = lensed.take
    reused = []
    lensed.take = lambda fallback: (lambda got: (reused.append(got[0]), got)[1])(take(fallback))
    trainer.train_step()
    assert len(seen) == 3 and [g for *_, g in graphs] == [False, False, True]
    for real_seen, (x, lensed, _) in zip(seen, graphs):
        assert torch.equal(real_seen, lensed)
        assert torch.allclose(real_seen, x + 0.5)
    assert reused[0] is graphs[-1][0]  # the lens step: the last critic step's batch, no new L(x)
    assert len(graphs) == 3



def test_periodic_snapshots_keep_lensed_data_and_samples_with_lambda(tiny_config, tmp_path,
                                                                     monkeypatch):
    import numpy as np
    from helpers import assert_figure, capture_figures

    from thermogan.report.snapshots import (
        load_shots,
        periodic_snapshots,
        snapshot_panel,
        snapshot_rows,
    )

    trainer = build.build_trainer(lens_config(tiny_config, "tempering.weight=0.5"))
    callback = periodic_snapshots(tmp_path, every=4, total_steps=10, n=8, seed=3)
    for _ in range(10):
        trainer.train_step()
        callback(trainer)
    shots = load_shots(tmp_path)
    assert [int(s["step"]) for s in shots] == [4, 8, 10]
    gen = torch.Generator().manual_seed(3)
    x = trainer.data.sample(8, gen, "cpu").x
    with torch.no_grad():
        assert np.allclose(shots[-1]["real"], trainer.temperings[0](x).numpy(), atol=1e-6)
        assert np.allclose(shots[-1]["fake"], trainer.sample(8, 3).numpy())
    assert all(float(s["weight"]) == 0.5 for s in shots)
    assert snapshot_panel(tmp_path).name == "snapshots.png"  # vectors: one scatter per step
    images = [{"step": np.array(s), "weight": np.array(w), "real": np.zeros((4, 1, 8, 8)),
               "fake": np.ones((4, 1, 8, 8))} for s, w in ((5, 0.9), (10, 0.1))]
    saved = capture_figures(monkeypatch)
    path = snapshot_rows([("G(z)", images, "fake"), ("L(x)", images[1:], "real")],
                         tmp_path / "rows.png")
    # the G(z) row at both steps, the L(x) row at step 10 only: 3 of the 4 cells hold images
    assert_figure(path, min_size=(400, 400), panels=3, min_ink=0.1, saved=saved)
