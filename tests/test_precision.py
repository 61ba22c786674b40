"""train.amp (bf16 autocast of G's and D's training forward passes) and train.compile
(nn.Module.compile of G and D): their config keys, where they are refused, what they change in a
step, and checkpoints that cross between compiled and uncompiled runs."""

import shutil

import pytest
import torch
import yaml
from torch import nn

from thermogan.errors import ConfigError
from thermogan.experiment import build, config
from thermogan.train.checkpoint import load_checkpoint, save_checkpoint

#: A small DCGAN on (fake) MNIST padded to 32 × 32: the image runs that train.amp is for.
DCGAN = ["data={kind: mnist, pad: true}", "model.generator={kind: dcgan, width: 8}",
         "model.discriminator={kind: dcgan, width: 8}", "model.z_dim=16", "train.batch_size=16",
         "train.ema=null", "optim.lr_decay=null"]
#: Toy runs with the fully connected nets: networks with a forward of their own, which
#: nn.Module.compile traces (the mlp nets are bare nn.Sequential, which it would not).
FC = ["model.generator={kind: fc, hidden: [16]}", "model.discriminator={kind: fc, hidden: [16]}"]


@pytest.fixture
def eager_compile(monkeypatch):
    """nn.Module.compile with a backend that records each graph dynamo traced and runs it as
    traced (nothing is generated: cheap and exact); returns (modules compiled, graphs)."""
    compiled: list[nn.Module] = []
    graphs: list[torch.fx.GraphModule] = []
    real = nn.Module.compile

    def record(graph: torch.fx.GraphModule, example_inputs):
        graphs.append(graph)
        return graph.forward

    def compile_eagerly(self, *args, **kwargs):
        compiled.append(self)
        return real(self, backend=record)

    monkeypatch.setattr(nn.Module, "compile", compile_eagerly)
    return compiled, graphs


def test_config_keys_check_their_values(tiny_config):
    cfg = config.load(tiny_config, ["train.amp=bf16", "train.compile=true"])
    assert (cfg.train.amp, cfg.train.compile) == ("bf16", True)
    assert config.load(tiny_config).train.amp is None
    with pytest.raises(ConfigError, match="float16 is not offered .*loss scaling.*bf16"):
        config.load(tiny_config, ["train.amp=fp16"])
    with pytest.raises(ConfigError, match="did you mean 'train.compile'"):
        config.load(tiny_config, ["train.compiled=true"])


def test_amp_is_refused_for_toy_data_and_an_sgld_d_that_needs_gradient_variance(
        tiny_config, mnist_home):
    with pytest.raises(ConfigError, match="train.amp=bf16: mixed precision is for image data"):
        build.build_trainer(config.load(tiny_config, ["train.amp=bf16"]))
    sgld = ["model.discriminator={kind: dcgan, width: 8, norm: none}",
            "optim.d={kind: sgld, lr: 0.1, temperature: 0.001, noise: covariance}"]
    with pytest.raises(ConfigError, match="train.amp=bf16: an SGLD D .*float32"):
        build.build_trainer(config.load(tiny_config, [*DCGAN, *sgld, "train.amp=bf16"]))


def _dtypes(net: nn.Module, kind: type[nn.Module], seen: list[torch.dtype]) -> None:
    """Record the output dtype of every ``kind`` layer of ``net`` in ``seen``."""
    for layer in net.modules():
        if isinstance(layer, kind):
            layer.register_forward_hook(lambda m, args, out: seen.append(out.dtype))


def test_amp_runs_the_networks_in_bf16_and_hands_float32_between_them(tiny_config, mnist_home):
    trainer = build.build_trainer(config.load(tiny_config, [*DCGAN, "train.amp=bf16"]))
    seen: list[torch.dtype] = []
    _dtypes(trainer.G, nn.ConvTranspose2d, seen)
    _dtypes(trainer.D, nn.Conv2d, seen)
    d = trainer.d_step()
    assert seen and set(seen) == {torch.bfloat16}  # every convolution of G and D
    for tensor in (d.fake.x, d.real_seen, d.fake_seen, d.real_logits, d.fake_logits, d.loss):
        assert tensor.dtype == torch.float32
    logs = trainer.train_step()
    assert all(v.dtype == torch.float32 and torch.isfinite(v) for v in logs.values())
    assert all(p.dtype == torch.float32 for p in trainer.G.parameters())
    seen.clear()
    samples = trainer.sample(8, seed=0)  # evaluation and sampling in float32
    assert samples.dtype == torch.float32 and set(seen) == {torch.float32}


def test_a_few_bf16_steps_stay_near_float32(tiny_config, mnist_home):
    runs = {amp: build.build_trainer(config.load(tiny_config, [*DCGAN, f"train.amp={amp}"]))
            for amp in ("null", "bf16")}
    before = runs["null"].sample(64, seed=5)
    losses = {amp: [trainer.train_step() for _ in range(4)] for amp, trainer in runs.items()}
    for full, half in zip(losses["null"], losses["bf16"]):
        for key in ("d_loss", "g_loss"):
            assert torch.isfinite(half[key])
            assert abs(half[key] - full[key]) < 0.03 * abs(full[key]) + 0.01, key
    full, half = runs["null"].sample(64, seed=5), runs["bf16"].sample(64, seed=5)
    assert (half - full).norm() < 0.2 * (full - before).norm()  # measured: 0.06


def test_compile_compiles_g_and_d_in_place(tiny_config, eager_compile):
    compiled, graphs = eager_compile
    plain = build.build_trainer(config.load(tiny_config, FC))
    trainer = build.build_trainer(config.load(tiny_config, [*FC, "train.compile=true"]))
    assert compiled == [trainer.G, trainer.D]  # not the EMA copy, which only samples
    assert list(trainer.state_dict()["generator"]) == list(plain.state_dict()["generator"])
    assert list(trainer.state_dict()["discriminator"]) == list(
        plain.state_dict()["discriminator"])
    for _ in range(3):
        a, b = trainer.train_step(), plain.train_step()
        assert a["d_loss"] == b["d_loss"] and a["g_loss"] == b["g_loss"]
    assert graphs  # dynamo traced the networks' forward passes


def test_compile_is_refused_where_it_fails_or_would_leave_a_network_uncompiled(
        tiny_config):
    with pytest.raises(ConfigError, match=r"model.generator \(mlp\) is a bare torch Sequential"):
        build.build_trainer(config.load(tiny_config, ["train.compile=true"]))
    with pytest.raises(ConfigError, match="gradient penalty differentiates D twice"):
        build.build_trainer(config.load(tiny_config, [*FC, "objective.loss=wgan-gp",
                                                      "train.compile=true"]))
    # under inductor, the first D backward fails: the power iteration's in-place update
    with pytest.raises(ConfigError, match="spectral_norm updates its power iteration in place"):
        build.build_trainer(config.load(tiny_config, [
            FC[0], "model.discriminator={kind: fc, hidden: [16], spectral_norm: true}",
            "train.compile=true"]))


@pytest.mark.parametrize("first,then", [(True, False), (False, True)])
def test_a_checkpoint_moves_between_compiled_and_uncompiled_runs(tiny_config, tmp_path,
                                                                 eager_compile, first, then):
    def trainer(compiled: bool):
        return build.build_trainer(config.load(tiny_config, [*FC, f"train.compile={compiled}"]))

    straight, stopped = trainer(first), trainer(first)
    for _ in range(3):
        straight.train_step(), stopped.train_step()
    save_checkpoint({**stopped.state_dict(), "config": {}}, tmp_path / "latest.pt")
    resumed = trainer(then)
    resumed.load_state_dict(load_checkpoint(tmp_path / "latest.pt"))
    for _ in range(2):
        a, b = straight.train_step(), resumed.train_step()
        assert a["d_loss"] == b["d_loss"] and a["g_loss"] == b["g_loss"]
    assert torch.equal(straight.sample(50, seed=1), resumed.sample(50, seed=1))


@pytest.mark.skipif(shutil.which("cc") is None and shutil.which("gcc") is None,
                    reason="inductor needs a C++ compiler on the CPU")
def test_inductor_compiled_toy_run_follows_the_uncompiled_one(tiny_config, tmp_path):
    raw = yaml.safe_load(tiny_config.read_text())
    raw["train"].update(ema=None, batch_size=16)
    path = tmp_path / "plain.yaml"
    path.write_text(yaml.safe_dump(raw))
    plain = build.build_trainer(config.load(path, FC))
    compiled = build.build_trainer(config.load(path, [*FC, "train.compile=true"]))
    a, b = compiled.d_step(), plain.d_step()  # G's no-grad forward, D's forward and backward
    assert torch.allclose(a.loss, b.loss, rtol=1e-5)
    for p, q in zip(compiled.D.parameters(), plain.D.parameters()):
        assert torch.allclose(p.grad, q.grad, rtol=1e-4, atol=1e-5)  # BN-cancelled: ~1e-7
