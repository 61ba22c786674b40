"""Network registries. Generators: ``factory(z_dim, shape, **options)``; discriminators:
``factory(shape, **options)``, returning one logit per sample. ``shape`` is a sample's shape:
(d,) for vectors, (C, H, W) for images.

Every factory takes ``num_classes`` (default None: unconditional, G(z) and D(x)). Set, it builds
the class-conditional network, called G(z, y) and D(x, y) with labels y (B,) int64: generators
conditioned by a label embedding, discriminators by projection (``nets/conditional.py``).

Every discriminator also takes ``packs`` (PacGAN: D judges packs of m samples and returns
(B/m, 1), ``nets/packed.py``) and ``spectral_norm`` (``nets/spectral.py``)."""

from __future__ import annotations

from collections.abc import Callable

from torch import nn

from thermogan.nets.dcgan import dcgan_discriminator, dcgan_generator
from thermogan.nets.fc import fc_discriminator, fc_generator
from thermogan.nets.maxout import maxout_discriminator
from thermogan.nets.mlp import (
    mlp_discriminator,
    mlp_generator,
    paper3d_discriminator,
    paper3d_generator,
)

GENERATORS: dict[str, Callable[..., nn.Module]] = {
    "mlp": mlp_generator, "paper3d": paper3d_generator, "fc": fc_generator,
    "dcgan": dcgan_generator,
}
DISCRIMINATORS: dict[str, Callable[..., nn.Module]] = {
    "mlp": mlp_discriminator, "paper3d": paper3d_discriminator, "fc": fc_discriminator,
    "dcgan": dcgan_discriminator, "maxout": maxout_discriminator,
}
