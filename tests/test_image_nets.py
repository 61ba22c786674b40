"""Image networks: shapes, the β-GAN MNIST layout, DCGAN's width parameter and initialisation,
and the conditional DCGAN (conditional batch norm, projection on the last feature map)."""

import torch
from torch import nn

from thermogan.nets.conditional import ConditionalBatchNorm2d
from thermogan.nets.dcgan import (
    ConditionalDCGANGenerator,
    DCGANDiscriminator,
    DCGANGenerator,
    dcgan_discriminator,
    dcgan_generator,
)
from thermogan.nets.fc import FCDiscriminator, FCGenerator


def test_fc_networks_follow_the_paper():
    g, d = FCGenerator(784, (1, 28, 28)), FCDiscriminator((1, 28, 28))
    assert g(torch.randn(8, 784)).shape == (8, 1, 28, 28)
    assert d(torch.randn(8, 1, 28, 28)).shape == (8, 1)
    widths = [m.out_features for m in g.net if isinstance(m, nn.Linear)]
    assert widths == [256, 256, 256, 784]
    assert [m.out_features for m in d.net if isinstance(m, nn.Linear)] == [256, 512, 512, 1]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in d.net) == 3


def test_dcgan_shapes_and_width():
    for channels in (1, 3):
        for width in (8, 32):
            g, d = DCGANGenerator(100, channels, width), DCGANDiscriminator(channels, width)
            x = g(torch.randn(4, 100))
            assert x.shape == (4, channels, 32, 32) and x.abs().max() <= 1
            assert d(x).shape == (4, 1)
    narrow, wide = DCGANDiscriminator(1, 16), DCGANDiscriminator(1, 32)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert 3.5 < count(wide) / count(narrow) < 4.1  # parameters grow like C²


def test_xavier_init_and_same_seed_same_weights():
    torch.manual_seed(0)
    a = DCGANGenerator(16, 1, 8)
    torch.manual_seed(0)
    b = DCGANGenerator(16, 1, 8)
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters()))
    conv = a.net[0]
    fan_in, fan_out = conv.weight.shape[1] * 16, conv.weight.shape[0] * 16
    bound = (6 / (fan_in + fan_out)) ** 0.5
    assert conv.weight.abs().max() <= bound
    assert conv.weight.abs().max() > 0.9 * bound


def test_dcgan_critic_without_batch_norm_scores_each_image_alone():
    """WGAN-GP's per-sample gradient penalty needs a critic whose output for one image does not
    depend on the rest of the batch: true without batch norm, false with it (in training mode)."""
    import pytest

    x = torch.randn(6, 3, 32, 32)
    for norm, independent in (("none", True), ("batch", False)):
        torch.manual_seed(0)
        d = dcgan_discriminator((3, 32, 32), width=8, norm=norm).train()
        alone = d(x[:2])
        assert torch.allclose(d(x)[:2], alone, atol=1e-6) == independent
        assert any(isinstance(m, nn.BatchNorm2d) for m in d.modules()) != independent
    with pytest.raises(ValueError, match="norm='layer'"):
        dcgan_discriminator((1, 32, 32), norm="layer")


def test_conditional_batch_norm_starts_as_batch_norm_and_then_depends_on_the_class():
    torch.manual_seed(0)
    cbn, bn = ConditionalBatchNorm2d(4, 3), nn.BatchNorm2d(4)
    x, y = torch.randn(6, 4, 5, 5), torch.tensor([0, 1, 2, 0, 1, 2])
    assert torch.allclose(cbn(x, y), bn(x), atol=1e-6)
    with torch.no_grad():
        cbn.gain.weight.normal_()
        cbn.bias.weight.normal_()
    gain, bias = cbn.gain.weight[y][:, :, None, None], cbn.bias.weight[y][:, :, None, None]
    assert torch.allclose(cbn(x, y), bn(x) * gain + bias, atol=1e-5)


def test_conditional_dcgan_generator_swaps_each_batch_norm_for_a_conditional_one():
    g, plain = dcgan_generator(16, (3, 32, 32), width=8, num_classes=10), DCGANGenerator(16, 3, 8)
    assert isinstance(g, ConditionalDCGANGenerator)
    assert not any(isinstance(m, nn.BatchNorm2d) and m.affine for m in g.modules())
    assert sum(isinstance(m, ConditionalBatchNorm2d) for m in g.net) == 3
    layers = [type(m) for m in g.net]
    assert layers == [ConditionalBatchNorm2d if t is nn.BatchNorm2d else t
                      for t in map(type, plain.net)]
    shapes = [[c.weight.shape for c in m.net if isinstance(c, nn.ConvTranspose2d)]
              for m in (g, plain)]
    assert shapes[0] == shapes[1]


def test_dcgan_projection_uses_the_flattened_last_feature_map_and_the_last_conv_as_head():
    torch.manual_seed(0)
    d = dcgan_discriminator((3, 32, 32), width=8, num_classes=5)
    x, y = torch.randn(4, 3, 32, 32), torch.tensor([0, 4, 2, 2])
    phi = d.features(x).flatten(1)  # (B, 4C·16)
    assert phi.shape == (4, 4 * 8 * 16) and d.embed.weight.shape == (5, 4 * 8 * 16)
    w, b = d.head.weight.flatten(), d.head.bias  # (4C·16,), (1,)
    logit = (phi @ w + b)[:, None] + (d.embed(y) * phi).sum(1, keepdim=True)  # (B, 1)
    assert torch.allclose(d(x, y), logit, atol=1e-5)


def test_conditional_dcgan_critic_without_batch_norm_scores_each_image_alone():
    torch.manual_seed(0)
    d = dcgan_discriminator((1, 32, 32), width=8, norm="none", num_classes=3)
    x, y = torch.randn(6, 1, 32, 32), torch.tensor([0, 1, 2, 0, 1, 2])
    assert torch.allclose(d(x, y)[:2], d(x[:2], y[:2]), atol=1e-6)
