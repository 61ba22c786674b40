"""Building objects from configs: component options are checked against their factories."""

import pytest
import torch

from thermogan.experiment import build, config
from thermogan.errors import ConfigError


@pytest.mark.parametrize("override, words", [
    ("data.kind=rnig", ["'rnig'", "'ring'"]),
    ("data.radus=2", ["unknown key 'data.radus'", "'data.radius'"]),
    ("data.std=-1", ["data.std=-1", "> 0"]),
    ("data.modes=many", ["data.modes='many'", "int"]),
    ("model.generator.activation=sigmoid", ["model.generator.activation='sigmoid'"]),
    ("model.discriminator.hiden=[3]", ["'model.discriminator.hidden'"]),
    ("objective.loss=hnge", ["'hnge'", "'hinge'"]),
])
def test_bad_components_name_the_key(tiny_config, override, words):
    cfg = config.load(tiny_config, [override])
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
    for pa, pb, pc in zip(a.G.parameters(), b.G.parameters(), c.G.parameters()):
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
