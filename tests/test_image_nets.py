"""Image networks: shapes, the β-GAN MNIST layout, DCGAN's width parameter and initialisation."""

import torch
from torch import nn

from thermogan.nets.dcgan import DCGANDiscriminator, DCGANGenerator
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

    from thermogan.nets.dcgan import dcgan_discriminator

    x = torch.randn(6, 3, 32, 32)
    for norm, independent in (("none", True), ("batch", False)):
        torch.manual_seed(0)
        d = dcgan_discriminator((3, 32, 32), width=8, norm=norm).train()
        alone = d(x[:2])
        assert torch.allclose(d(x)[:2], alone, atol=1e-6) == independent
        assert any(isinstance(m, nn.BatchNorm2d) for m in d.modules()) != independent
    with pytest.raises(ValueError, match="norm='layer'"):
        dcgan_discriminator((1, 32, 32), norm="layer")
