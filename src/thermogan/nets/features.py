"""D's penultimate features φ(x): what variational annealing's feature-space score reads.

For every discriminator built here the logit is a linear map of φ (the last layer is
``nn.Linear(F, 1)`` or a convolution whose kernel covers the whole feature map). A discriminator
of one's own is read through its ``features`` attribute, a module x -> φ(x), when it has one
(as the projection discriminator does).
"""

from __future__ import annotations

from torch import Tensor, nn

from thermogan.nets.dcgan import DCGANDiscriminator
from thermogan.nets.fc import FCDiscriminator


class Penultimate(nn.Module):
    """x (B, ...) -> φ(x) (B, F), flattened; shares its layers (and weights) with D."""

    def __init__(self, body: nn.Module) -> None:
        super().__init__()
        self.body = body

    def forward(self, x: Tensor) -> Tensor:
        return self.body(x).flatten(1)


def penultimate(discriminator: nn.Module) -> Penultimate:
    """φ of ``discriminator``: every layer but the last (a view, not a copy)."""
    body = getattr(discriminator, "features", None)
    if isinstance(body, nn.Module):
        return Penultimate(body)
    if isinstance(discriminator, FCDiscriminator):
        return Penultimate(nn.Sequential(nn.Flatten(), *discriminator.net[:-1]))
    if isinstance(discriminator, DCGANDiscriminator):
        return Penultimate(discriminator.net[:-1])
    if isinstance(discriminator, nn.Sequential) and len(discriminator) > 1:
        return Penultimate(discriminator[:-1])
    raise ValueError(f"{type(discriminator).__name__} has no known penultimate layer: give it a "
                     "`features` module (x -> features) or use space: data")
