"""Network registries: each entry is ``factory(in_dim, out_dim, **options) -> nn.Module``."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from thermogan.nets.mlp import mlp, paper3d_discriminator, paper3d_generator

GENERATORS: dict[str, Callable[..., nn.Module]] = {"mlp": mlp, "paper3d": paper3d_generator}
DISCRIMINATORS: dict[str, Callable[..., nn.Module]] = {"mlp": mlp, "paper3d": paper3d_discriminator}
