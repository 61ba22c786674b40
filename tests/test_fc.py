"""The fully connected networks' ``norm`` option: batch norm by default (today's D, weight for
weight), none for a D whose per-example gradients an SGLD D with covariance noise needs."""

import pytest
import torch
from torch import nn

from thermogan.errors import ConfigError
from thermogan.experiment import build, config
from thermogan.experiment.config import Component
from thermogan.nets import DISCRIMINATORS
from thermogan.nets.fc import FCDiscriminator, fc_discriminator

SHAPE = (1, 28, 28)


def test_default_is_todays_batch_norm_discriminator():
    torch.manual_seed(0)
    d = fc_discriminator(SHAPE, [32, 16])
    assert [type(m) for m in d.net] == [nn.Linear, nn.BatchNorm1d, nn.ReLU, nn.Linear,
                                        nn.BatchNorm1d, nn.ReLU, nn.Linear]
    torch.manual_seed(0)
    assert all(torch.equal(a, b) for a, b in zip(d.state_dict().values(),
                                                 FCDiscriminator(SHAPE, [32, 16]).state_dict()
                                                 .values()))


@pytest.mark.parametrize("num_classes", [None, 10])
def test_no_norm_has_the_same_linear_weights_and_no_batch_norm(num_classes):
    torch.manual_seed(0)
    with_bn = fc_discriminator(SHAPE, [32, 16], num_classes=num_classes)
    torch.manual_seed(0)
    plain = fc_discriminator(SHAPE, [32, 16], "none", num_classes)
    assert not any(isinstance(m, nn.BatchNorm1d) for m in plain.modules())
    linears = [[m.weight for m in net.modules() if isinstance(m, (nn.Linear, nn.Embedding))]
               for net in (with_bn, plain)]
    assert len(linears[0]) == len(linears[1]) == 3 + (num_classes is not None)
    assert all(torch.equal(a, b) for a, b in zip(*linears))


def test_without_norm_each_example_is_scored_alone():
    torch.manual_seed(0)
    d = fc_discriminator(SHAPE, [32, 16], "none").train()
    x = torch.randn(8, *SHAPE)
    changed = x.clone()
    changed[1:] = torch.randn(7, *SHAPE)
    assert torch.allclose(d(x)[0], d(changed)[0])
    torch.manual_seed(0)
    bn = fc_discriminator(SHAPE, [32, 16]).train()
    assert not torch.allclose(bn(x)[0], bn(changed)[0])


def test_bad_norm_names_the_key():
    spec = Component(kind="fc", norm="layer")
    with pytest.raises(ConfigError, match=r"^model\.discriminator\.norm='layer': expected one "
                       "of batch, none$"):
        build.call_component(DISCRIMINATORS, spec, "model.discriminator", SHAPE)


@pytest.mark.parametrize("norm", ["batch", "none"])
def test_an_sgld_d_with_covariance_noise_needs_norm_none(tiny_config, mnist_home, norm):
    cfg = config.load(tiny_config, [
        "data.kind=mnist", "model.z_dim=8", "model.generator={kind: fc, hidden: [16]}",
        f"model.discriminator={{kind: fc, hidden: [16], norm: {norm}}}",
        "model.conditional=true", "optim.d={kind: sgld, lr: 1.0e-3, noise: covariance}"])
    if norm == "batch":
        with pytest.raises(ConfigError, match="model.discriminator.norm: none"):
            build.build_trainer(cfg)
        return
    trainer = build.build_trainer(cfg)
    trainer.train_step()
    assert trainer.describe()["d_noise_std"] > 0
