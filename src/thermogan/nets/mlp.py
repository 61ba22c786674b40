"""Fully connected networks for vector data, and the 3-D toy architecture of the β-GAN papers.

Paper preset (Mehrjou et al. 2018, Fig. 2): G = z(3) | ReLU(128) | ReLU(128) | Linear(3);
D = x(3) | Tanh(128) | Tanh(128) | Tanh(128) | Sigmoid(1). Our discriminators return the logit; the
sigmoid lives in the loss (``objectives/adversarial.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import nn

ACTIVATIONS: dict[str, type[nn.Module]] = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "silu": nn.SiLU,
}


def mlp(in_dim: int, out_dim: int, hidden: Sequence[int] = (128, 128),
        activation: str = "relu") -> nn.Sequential:
    """Linear layers of widths ``hidden`` with ``activation`` between them, linear output."""
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


def mlp_generator(z_dim: int, shape: Sequence[int], hidden: Sequence[int] = (128, 128),
                  activation: str = "relu") -> nn.Sequential:
    """G: z (B, z_dim) -> x (B, d)."""
    return mlp(z_dim, _vector_dim(shape, "mlp"), hidden, activation)


def mlp_discriminator(shape: Sequence[int], hidden: Sequence[int] = (128, 128),
                      activation: str = "relu") -> nn.Sequential:
    """D: x (B, d) -> logit (B, 1)."""
    return mlp(_vector_dim(shape, "mlp"), 1, hidden, activation)


def paper3d_generator(z_dim: int, shape: Sequence[int]) -> nn.Sequential:
    """The β-GAN 3-D toy generator: ReLU(128) | ReLU(128) | Linear."""
    return mlp(z_dim, _vector_dim(shape, "paper3d"), (128, 128), "relu")


def paper3d_discriminator(shape: Sequence[int]) -> nn.Sequential:
    """The β-GAN 3-D toy discriminator: Tanh(128) × 3 | logit."""
    return mlp(_vector_dim(shape, "paper3d"), 1, (128, 128, 128), "tanh")
