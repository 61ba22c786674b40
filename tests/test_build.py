"""Building objects from configs: component options are checked against their factories."""

import pytest
import torch

from thermogan.errors import ConfigError
from thermogan.experiment import build, config


@pytest.mark.parametrize("override, words", [
    ("data.kind=rnig", ["'rnig'", "'ring'"]),
    ("data.radus=2", ["unknown key 'data.radus'", "'data.radius'"]),
    ("data.std=-1", ["data.std=-1", "> 0"]),
    ("data.modes=many", ["data.modes='many'", "int"]),
    ("model.generator.activation=sigmoid", ["model.generator.activation='sigmoid'"]),
    ("model.discriminator.hiden=[3]", ["'model.discriminator.hidden'"]),
    ("objective.loss=hnge", ["'hnge'", "'hinge'"]),
    ("optim.g.betas=[0.5, 1.5]", ["optim.g.betas=[0.5, 1.5]", "[0, 1)"]),
    ("optim.d.kind=adamw", ["unknown kind 'adamw' at optim.d", "'adam'"]),
    ("optim.d.momentun=0.9", ["unknown key 'optim.d.momentun'"]),
    ("optim.g={kind: sgd, momentum: 1.5}", ["optim.g.momentum=1.5"]),
    ("tempering=[{kind: instance_noise}, {kind: heet}]", ["tempering[1]", "'heat'"]),
    ("tempering={kind: instance_noise, std: {kind: constant_contoller}}",
     ["'constant_controller'"]),
    ("tempering={kind: instance_noise, std: {kind: constant_controller, valu: 1}}",
     ["unknown key 'tempering.std.valu'", "'tempering.std.value'"]),
    ("regulariser=[{kind: scor}]", ["regulariser[0]", "'score'"]),
    ("regulariser={kind: score, spase: data}", ["unknown key 'regulariser.spase'",
                                                "'regulariser.space'"]),
    ("regulariser={kind: score, space: pixels}", ["regulariser.space='pixels'",
                                                  "one of data, features"]),
    ("regulariser={kind: score, space: features}", ["regulariser.score=analytic",
                                                    "score: dae"]),
    ("regulariser={kind: score, weight: {kind: pma, total_steps: 10, bound: -1}}",
     ["regulariser.weight.bound=-1.0", "magnitude"]),
    ("regulariser={kind: score, discriminator: 1}", ["regulariser.discriminator",
                                                     "set by the build"]),
    ("model.conditional=true", ["model.conditional=true", "data 'box' has no labels"]),
    ("model.generator.num_classes=8", ["model.conditional=true instead"]),
])
def test_bad_components_name_the_key(tiny_config, override, words):
    cfg = config.load(tiny_config, [override, *(["data.kind=box"] if "conditional" in override
                                                 else [])])
    with pytest.raises(ConfigError) as info:
        build.build_trainer(cfg)
    for word in words:
        assert word in str(info.value)


@pytest.mark.parametrize("override, word", [
    ("tempering.recn=mean", "'tempering.recon'"),
    ("tempering.width=wide", "tempering.width='wide': expected int"),
    ("model.generator.widht=8", "'model.generator.width'"),
    ("objective.loss=lsgn", "'lsgan'"),
])
def test_components_are_checked_without_building(tmp_path, monkeypatch, override, word):
    """No data files here: check_components must not need them to find a bad option."""
    monkeypatch.setenv("THERMOGAN_DATA", str(tmp_path))
    cfg = config.load("configs/tan_mnist_gan_cpu.yaml", [override])
    with pytest.raises(ConfigError, match=word):
        build.check_components(cfg)
    build.check_components(config.load("configs/tan_mnist_gan_cpu.yaml"))


def test_same_seed_same_initial_weights(tiny_config):
    a = build.build_trainer(config.load(tiny_config))
    b = build.build_trainer(config.load(tiny_config))
    c = build.build_trainer(config.load(tiny_config, ["seed=4"]))
    for pa, pb in zip(a.G.parameters(), b.G.parameters()):
        assert torch.equal(pa, pb)
    assert not all(torch.equal(pa, pc) for pa, pc in zip(a.G.parameters(), c.G.parameters()))


def test_device_resolution():
    assert build.resolve_device("cpu") == torch.device("cpu")
    assert build.resolve_device("auto").type in ("cpu", "cuda")
    with pytest.raises(ConfigError, match="device='tpu'"):
        build.resolve_device("tpu")
    if not torch.cuda.is_available():
        with pytest.raises(ConfigError, match="CUDA is not available"):
            build.resolve_device("cuda")


def test_optimizers_and_temperings_come_from_their_registries(tiny_config):
    cfg = config.load(tiny_config, ["optim.d={kind: sgd, lr: 0.01, momentum: 0.5}",
                                    "tempering=[{kind: instance_noise}, {kind: lens, width: 4}]"])
    trainer = build.build_trainer(cfg)
    assert isinstance(trainer.d_opt, torch.optim.SGD) and isinstance(trainer.g_opt,
                                                                     torch.optim.Adam)
    assert trainer.d_opt.param_groups[0]["momentum"] == 0.5
    assert [type(t).__name__ for t in trainer.temperings] == ["InstanceNoise", "Lens"]
    assert list(trainer.players) == ["lens"]
