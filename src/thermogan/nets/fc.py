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
                 num_classes: int | None = None) -> FCGenerator | LabelConcatGenerator:
    """G(z), or with ``num_classes`` G(z, y) = FCGenerator([z, embed(y)])."""
    if num_classes is None:
        return FCGenerator(z_dim, shape, hidden)
    embed_dim = label_embed_dim(num_classes)
    return LabelConcatGenerator(FCGenerator(z_dim + embed_dim, shape, hidden), num_classes,
                                embed_dim)


def fc_discriminator(shape: Sequence[int], hidden: Sequence[int] = (256, 512, 512),
                     norm: str = "batch",
                     num_classes: int | None = None) -> FCDiscriminator | ProjectionDiscriminator:
    """D(x), or with ``num_classes`` the projection discriminator D(x, y) on its last hidden
    layer; ``norm="none"`` leaves out batch norm (an SGLD D's per-example gradients)."""
    if norm not in NORMS:
        raise ValueError(f"norm={norm!r}: expected one of {', '.join(NORMS)}")
    d = FCDiscriminator(shape, hidden, norm)
    if num_classes is None:
        return d
    return ProjectionDiscriminator(nn.Sequential(nn.Flatten(), *d.net[:-1]), d.net[-1],
                                   num_classes)
