"""Fully connected networks with batch normalisation: β-GAN's MNIST experiment (Mehrjou & Saremi).

G: z(784) | [Linear(256) · BN · ReLU] × 3 | Linear(784), reshaped to the image.
D: x(784) | Linear(256) · BN · ReLU | Linear(512) · BN · ReLU | Linear(512) · BN · ReLU | logit.

D takes ``norm="none"`` to drop its BatchNorm layers: batch norm mixes the examples of a batch,
so such a D has no per-example gradients, which an SGLD D with covariance-controlled noise needs
(the Langevin-stabilised GAN, docs/langevin.md). Its linear layers are initialised exactly as with
``norm="batch"`` (BatchNorm draws nothing), so the two start from the same weights.

With ``num_classes`` set they are class-conditional (``nets/conditional.py``): G(z, y) feeds
[z, embed(y)] to the same layers, with a min(num_classes, 32)-wide label embedding; D(x, y) is a
projection discriminator whose φ(x) is the last hidden ReLU's output (512 features by default).

G takes ``init_std`` (weights from N(0, init_std²), biases 0; PacGAN's toy G, Lin et al. 2018, is
this G with four hidden layers of 400 and init_std 0.02). D takes ``packs`` (PacGAN packing,
``nets/packed.py``) and ``spectral_norm`` (``nets/spectral.py``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

from torch import Tensor, nn

from thermogan.nets.conditional import (
    LabelConcatGenerator,
    ProjectionDiscriminator,
    label_embed_dim,
)
from thermogan.nets.init import normal_init
from thermogan.nets.packed import packed, packed_shape
from thermogan.nets.spectral import spectral_normalised

NORMS = ("batch", "none")


def _stack(in_dim: int, widths: Sequence[int], norm: str = "batch") -> tuple[list[nn.Module], int]:
    """[Linear · BN · ReLU] per width (``norm="none"``: [Linear · ReLU]), and the output width."""
    layers: list[nn.Module] = []
    for width in widths:
        bn = [nn.BatchNorm1d(width)] if norm == "batch" else []
        layers += [nn.Linear(in_dim, width), *bn, nn.ReLU()]
        in_dim = width
    return layers, in_dim


class FCGenerator(nn.Module):
    """z (B, z_dim) -> images (B, *shape), linear output."""

    def __init__(self, z_dim: int, shape: Sequence[int], hidden: Sequence[int] = (256, 256, 256)):
        super().__init__()
        self.shape = tuple(shape)
        layers, width = _stack(z_dim, hidden)
        self.net = nn.Sequential(*layers, nn.Linear(width, math.prod(self.shape)))

    def forward(self, z: Tensor) -> Tensor:
        return self.net(z).view(len(z), *self.shape)  # (B, *shape)


class FCDiscriminator(nn.Module):
    """images (B, *shape) -> logits (B, 1); ``norm`` is "batch" or "none"."""

    def __init__(self, shape: Sequence[int], hidden: Sequence[int] = (256, 512, 512),
                 norm: str = "batch"):
        super().__init__()
        layers, width = _stack(math.prod(shape), hidden, norm)
        self.net = nn.Sequential(*layers, nn.Linear(width, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.net(x.flatten(1))  # (B, 1)


def fc_generator(z_dim: int, shape: Sequence[int], hidden: Sequence[int] = (256, 256, 256),
                 init_std: float | None = None,
                 num_classes: int | None = None) -> FCGenerator | LabelConcatGenerator:
    """G(z), or with ``num_classes`` G(z, y) = FCGenerator([z, embed(y)]); ``init_std``:
    linear weights from N(0, init_std²) and biases 0 (null: torch's default)."""
    embed_dim = 0 if num_classes is None else label_embed_dim(num_classes)
    net = FCGenerator(z_dim + embed_dim, shape, hidden)
    if init_std is not None:
        normal_init(net, init_std)
    if num_classes is None:
        return net
    return LabelConcatGenerator(net, num_classes, embed_dim)


def fc_discriminator(shape: Sequence[int], hidden: Sequence[int] = (256, 512, 512),
                     norm: str = "batch", num_classes: int | None = None,
                     packs: int = 1, spectral_norm: bool = False) -> nn.Module:
    """D(x), or with ``num_classes`` the projection discriminator D(x, y) on its last hidden
    layer; ``norm="none"`` leaves out batch norm (an SGLD D's per-example gradients);
    ``packs`` m > 1: logits (B/m, 1) of packs of m images."""
    if norm not in NORMS:
        raise ValueError(f"norm={norm!r}: expected one of {', '.join(NORMS)}")
    d = spectral_normalised(FCDiscriminator(packed_shape(shape, packs), hidden, norm),
                            spectral_norm)
    if num_classes is not None:
        d = ProjectionDiscriminator(nn.Sequential(nn.Flatten(), *d.net[:-1]), d.net[-1],
                                    num_classes)
    return packed(d, packs, num_classes)
