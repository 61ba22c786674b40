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


def paper3d_generator(in_dim: int, out_dim: int) -> nn.Sequential:
    """The β-GAN 3-D toy generator: ReLU(128) | ReLU(128) | Linear."""
    return mlp(in_dim, out_dim, (128, 128), "relu")


def paper3d_discriminator(in_dim: int, out_dim: int = 1) -> nn.Sequential:
    """The β-GAN 3-D toy discriminator: Tanh(128) × 3 | logit."""
    return mlp(in_dim, out_dim, (128, 128, 128), "tanh")
