"""Fully connected networks for vector data, and the 3-D toy architecture of the β-GAN papers.

Paper preset (Mehrjou et al. 2018, Fig. 2): G = z(3) | ReLU(128) | ReLU(128) | Linear(3);
D = x(3) | Tanh(128) | Tanh(128) | Tanh(128) | Sigmoid(1). Our discriminators return the logit; the
sigmoid lives in the loss (``objectives/adversarial.py``).

With ``num_classes`` set, every network here is class-conditional (``nets/conditional.py``): G(z, y)
feeds [z, embed(y)] to the same layers, with a min(num_classes, 32)-wide label embedding; D(x, y)
is a projection discriminator whose φ(x) is the output of the last hidden activation.

Every discriminator here takes ``packs`` (PacGAN: D judges packs of m samples, ``nets/packed.py``)
and ``spectral_norm`` (every layer spectrally normalised, ``nets/spectral.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

from thermogan.nets.conditional import (
    LabelConcatGenerator,
    ProjectionDiscriminator,
    label_embed_dim,
)
from thermogan.nets.packed import packed, packed_shape
from thermogan.nets.spectral import spectral_normalised

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "silu": nn.SiLU,
}
VectorGenerator = nn.Sequential | LabelConcatGenerator  # G(z), or G(z, y) with num_classes


def mlp(in_dim: int, out_dim: int, hidden: Sequence[int] = (128, 128),
        activation: str = "relu") -> nn.Sequential:
    """Linear layers of widths ``hidden`` with ``activation`` between them (a name of
    ``ACTIVATIONS``: relu, leaky_relu, tanh, elu or silu), linear output."""
    if activation not in ACTIVATIONS:
        raise ValueError(f"activation={activation!r}: must be one of {', '.join(ACTIVATIONS)}")
    if any(int(width) <= 0 for width in hidden):
        raise ValueError(f"hidden={list(hidden)!r}: widths must be > 0")
    layers: list[nn.Module] = []
    width = in_dim
    for next_width in hidden:
        layers += [nn.Linear(width, int(next_width)), ACTIVATIONS[activation]()]
        width = int(next_width)
    layers.append(nn.Linear(width, out_dim))
    return nn.Sequential(*layers)


def _vector_dim(shape: Sequence[int], name: str) -> int:
    if len(shape) != 1:
        raise ValueError(f"shape={tuple(shape)!r}: {name} is for vector data; "
                         "use fc or dcgan for images")
    return int(shape[0])


def _vector_generator(z_dim: int, d: int, hidden: Sequence[int], activation: str,
                      num_classes: int | None) -> VectorGenerator:
    """``mlp`` from z to d; with ``num_classes``, from [z, embed(y)] to d."""
    if num_classes is None:
        return mlp(z_dim, d, hidden, activation)
    embed_dim = label_embed_dim(num_classes)
    return LabelConcatGenerator(mlp(z_dim + embed_dim, d, hidden, activation), num_classes,
                                embed_dim)


def _vector_discriminator(d: int, hidden: Sequence[int], activation: str, packs: int,
                          spectral_norm: bool, num_classes: int | None) -> nn.Module:
    """``mlp`` from d (times ``packs``) to one logit, spectrally normalised when asked; with
    ``num_classes``, its projection discriminator; with ``packs`` > 1, judging packs."""
    net = spectral_normalised(mlp(packed_shape((d,), packs)[0], 1, hidden, activation),
                              spectral_norm)
    if num_classes is not None:
        net = ProjectionDiscriminator(net[:-1], net[-1], num_classes)
    return packed(net, packs, num_classes)


def mlp_generator(z_dim: int, shape: Sequence[int], hidden: Sequence[int] = (128, 128),
                  activation: str = "relu", num_classes: int | None = None) -> VectorGenerator:
    """G: z (B, z_dim) -> x (B, d), an nn.Sequential of linear layers of widths ``hidden``
    with ``activation`` (relu, leaky_relu, tanh, elu or silu) between them; with
    ``num_classes``, G(z, y)."""
    return _vector_generator(z_dim, _vector_dim(shape, "mlp"), hidden, activation, num_classes)


def mlp_discriminator(shape: Sequence[int], hidden: Sequence[int] = (128, 128),
                      activation: str = "relu", num_classes: int | None = None,
                      packs: int = 1, spectral_norm: bool = False) -> nn.Module:
    """D: x (B, d) -> logit (B, 1), an nn.Sequential of linear layers of widths ``hidden``
    with ``activation`` (relu, leaky_relu, tanh, elu or silu) between them; with
    ``num_classes``, D(x, y); with ``packs`` m > 1, logits (B/m, 1) of packs."""
    return _vector_discriminator(_vector_dim(shape, "mlp"), hidden, activation, packs,
                                 spectral_norm, num_classes)


def paper3d_generator(z_dim: int, shape: Sequence[int],
                      num_classes: int | None = None) -> VectorGenerator:
    """The β-GAN 3-D toy generator: ReLU(128) | ReLU(128) | Linear."""
    return _vector_generator(z_dim, _vector_dim(shape, "paper3d"), (128, 128), "relu",
                             num_classes)


def paper3d_discriminator(shape: Sequence[int], num_classes: int | None = None,
                          packs: int = 1, spectral_norm: bool = False) -> nn.Module:
    """The β-GAN 3-D toy discriminator: Tanh(128) × 3 | logit."""
    return _vector_discriminator(_vector_dim(shape, "paper3d"), (128, 128, 128), "tanh",
                                 packs, spectral_norm, num_classes)
