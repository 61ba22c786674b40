"""Maxout networks (Goodfellow et al. 2013, "Maxout Networks"), and the discriminator of the
PacGAN toy experiments (Lin et al. 2018): three maxout layers of 200 units with 5 pieces each,
then a linear logit, every weight drawn from N(0, 0.02²) and every bias 0.

A maxout unit is the largest of k affine pieces: h_i(x) = max_{j<k} (x·W_{:,ik+j} + b_{ik+j}).
One linear layer computes all out·k pieces; unit i takes the k consecutive columns ik, ..., ik+k−1
(the layout of Blocks' ``LinearMaxout``, which the authors' code uses).

With ``num_classes`` set, D(x, y) is a projection discriminator whose φ(x) is the last maxout
layer's output (``nets/conditional.py``).
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from thermogan.nets.conditional import ProjectionDiscriminator
from thermogan.nets.init import normal_init
from thermogan.nets.packed import packed, packed_shape
from thermogan.nets.spectral import spectral_normalised


class Maxout(nn.Module):
    """x (B, in) -> (B, out): each of ``out`` units is the max of ``pieces`` affine maps."""

    def __init__(self, in_features: int, out_features: int, pieces: int) -> None:
        super().__init__()
        if pieces < 1 or out_features < 1:
            raise ValueError(f"pieces={pieces!r}, width={out_features!r}: both must be >= 1")
        self.out_features, self.pieces = out_features, pieces
        self.linear = nn.Linear(in_features, out_features * pieces)

    def forward(self, x: Tensor) -> Tensor:
        z = self.linear(x)  # (B, out·k)
        return z.unflatten(1, (self.out_features, self.pieces)).amax(2)  # (B, out)


def maxout_discriminator(shape: Sequence[int], hidden: Sequence[int] = (200, 200, 200),
                         pieces: int = 5, init_std: float | None = 0.02,
                         num_classes: int | None = None, packs: int = 1,
                         spectral_norm: bool = False) -> nn.Module:
    """D: x (B, d) -> logit (B, 1) through maxout layers of widths ``hidden`` with ``pieces``
    pieces each and a linear logit (PacGAN's toy D by default). ``init_std``: weights from
    N(0, init_std²), biases 0 (null: torch's default initialisation). ``packs``: D judges
    packs of that many samples (``nets/packed.py``); ``spectral_norm``: every layer spectrally
    normalised (``nets/spectral.py``); with ``num_classes``, D(x, y)."""
    if len(shape) != 1:
        raise ValueError(f"shape={tuple(shape)!r}: maxout is for vector data")
    width, layers = packed_shape(shape, packs)[0], []
    for next_width in hidden:
        layers.append(Maxout(width, int(next_width), pieces))
        width = int(next_width)
    net = nn.Sequential(nn.Sequential(*layers), nn.Linear(width, 1))  # (features φ, head)
    if init_std is not None:
        normal_init(net, init_std)
    net = spectral_normalised(net, spectral_norm)
    if num_classes is not None:
        net = ProjectionDiscriminator(net[0], net[1], num_classes)
    return packed(net, packs, num_classes)
