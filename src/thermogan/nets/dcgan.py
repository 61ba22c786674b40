"""DCGAN for 32 × 32 images with width parameter C (Radford et al. 2016; as used by Tempered
Adversarial Networks, Sajjadi et al. 2018, App. A.2; docs/lens.md): 4 × 4 kernels, batch norm, ReLU
in G, leaky ReLU (0.2) in D, Tanh output, Xavier initialisation.

G: z → ConvT(4C, 4×4) · BN · ReLU → 8×8 (2C) → 16×16 (C) → 32×32 (channels) · Tanh.
D: 32×32 → Conv(C) · LReLU → 8×8 (2C) · BN → 4×4 (4C) · BN → Conv(1, 4×4) logit.

For WGAN-GP the critic takes ``norm="none"``: batch norm couples the samples of a batch, which
the per-sample gradient penalty assumes they are not (Gulrajani et al. 2017, Sec. 4).

With ``num_classes`` set they are class-conditional (``nets/conditional.py``). G(z, y) replaces
each BatchNorm2d by class-conditional batch norm, ``ConditionalDCGANGenerator``. D(x, y) is a
projection discriminator (Miyato & Koyama 2018) whose φ(x) is the 4×4 (4C) feature map before
the last convolution, flattened rather than sum-pooled as in the paper: the last 4×4 convolution
stays the linear head w·φ + b, and the class embeddings are 4C·16 wide.

D takes ``packs`` (PacGAN packing: m images stacked along the channels, ``nets/packed.py``) and
``spectral_norm`` (``nets/spectral.py``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from torch import Tensor, nn

from thermogan.nets.conditional import (
    ConditionalBatchNorm2d,
    LabelSequential,
    ProjectionDiscriminator,
    require_labels,
)
from thermogan.nets.packed import packed, packed_shape
from thermogan.nets.spectral import spectral_normalised


def xavier_init(module: nn.Module) -> None:
    """Xavier-uniform weights and zero biases for every convolution and linear layer."""
    for m in module.modules():
        if isinstance(m, (nn.Conv2d, nn.ConvTranspose2d, nn.Linear)):
            nn.init.xavier_uniform_(m.weight)
            if m.bias is not None:
                nn.init.zeros_(m.bias)


def _generator_layers(z_dim: int, channels: int, width: int,
                     norm: Callable[[int], nn.Module]) -> list[nn.Module]:
    """The generator's layers, with ``norm(num_channels)`` after each hidden convolution."""
    c = width
    return [
        nn.ConvTranspose2d(z_dim, 4 * c, 4, 1, 0, bias=False), norm(4 * c), nn.ReLU(),
        nn.ConvTranspose2d(4 * c, 2 * c, 4, 2, 1, bias=False), norm(2 * c), nn.ReLU(),
        nn.ConvTranspose2d(2 * c, c, 4, 2, 1, bias=False), norm(c), nn.ReLU(),
        nn.ConvTranspose2d(c, channels, 4, 2, 1), nn.Tanh(),
    ]


class DCGANGenerator(nn.Module):
    """z (B, z_dim) -> images (B, channels, 32, 32) in [−1, 1]."""

    def __init__(self, z_dim: int, channels: int = 1, width: int = 64):
        super().__init__()
        self.net = nn.Sequential(*_generator_layers(z_dim, channels, width, nn.BatchNorm2d))
        xavier_init(self)

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z[:, :, None, None])  # (B, channels, 32, 32)


class ConditionalDCGANGenerator(nn.Module):
    """z (B, z_dim), labels y (B,) -> images (B, channels, 32, 32) in [−1, 1]: DCGANGenerator
    with each BatchNorm2d replaced by ConditionalBatchNorm2d (gain 1, bias 0 at initialisation)."""

    def __init__(self, z_dim: int, num_classes: int, channels: int = 1, width: int = 64):
        super().__init__()
        self.net = LabelSequential(*_generator_layers(
            z_dim, channels, width, lambda c: ConditionalBatchNorm2d(c, num_classes)))
        xavier_init(self)

    def forward(self, z: Tensor, y: Tensor | None = None) -> Tensor:
        return self.net(z[:, :, None, None], require_labels(y, self))  # (B, channels, 32, 32)


NORMS = ("batch", "none")


class DCGANDiscriminator(nn.Module):
    """images (B, channels, 32, 32) -> logits (B, 1); ``norm`` is "batch" or "none"."""

    def __init__(self, channels: int = 1, width: int = 64, norm: str = "batch"):
        super().__init__()
        c, batch = width, norm == "batch"

        def down(i: int, o: int) -> list[nn.Module]:
            conv = nn.Conv2d(i, o, 4, 2, 1, bias=not batch)
            return [conv, nn.BatchNorm2d(o), nn.LeakyReLU(0.2)] if batch else [
                conv, nn.LeakyReLU(0.2)]

        self.net = nn.Sequential(
            nn.Conv2d(channels, c, 4, 2, 1), nn.LeakyReLU(0.2),
            *down(c, 2 * c), *down(2 * c, 4 * c),
            nn.Conv2d(4 * c, 1, 4, 1, 0),
        )
        xavier_init(self)

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x).flatten(1)  # (B, 1)


AnyDCGANGenerator = DCGANGenerator | ConditionalDCGANGenerator  # G(z), or G(z, y)


def _channels(shape: Sequence[int]) -> int:
    if len(shape) != 3 or tuple(shape[1:]) != (32, 32):
        raise ValueError(f"shape={tuple(shape)!r}: DCGAN here is for 32×32 images "
                         "(set data.pad: true for MNIST)")
    return int(shape[0])


def dcgan_generator(z_dim: int, shape: Sequence[int], width: int = 64,
                    num_classes: int | None = None) -> AnyDCGANGenerator:
    """G(z), or with ``num_classes`` G(z, y) through class-conditional batch norm."""
    if num_classes is None:
        return DCGANGenerator(z_dim, _channels(shape), width)
    return ConditionalDCGANGenerator(z_dim, num_classes, _channels(shape), width)


def dcgan_discriminator(shape: Sequence[int], width: int = 64, norm: str = "batch",
                        num_classes: int | None = None, packs: int = 1,
                        spectral_norm: bool = False) -> nn.Module:
    """D(x), or with ``num_classes`` the projection discriminator D(x, y) on the flattened 4×4
    feature map before the last convolution; ``packs`` m > 1: logits (B/m, 1) of packs."""
    if norm not in NORMS:
        raise ValueError(f"norm={norm!r}: expected one of {', '.join(NORMS)}")
    d = spectral_normalised(DCGANDiscriminator(_channels(packed_shape(shape, packs)), width,
                                               norm), spectral_norm)
    if num_classes is not None:
        d = ProjectionDiscriminator(d.net[:-1], d.net[-1], num_classes)
    return packed(d, packs, num_classes)
