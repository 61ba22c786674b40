"""PacGAN packing (Lin et al. 2018, "PacGAN: The power of two samples in generative adversarial
networks"): the discriminator judges m samples at once, concatenated, and so sees whether a set
of samples is diverse, which penalises mode collapse.

A batch of B = m·n samples, drawn as m consecutive chunks of n, becomes n packs: pack j is
[x_j, x_{n+j}, ..., x_{(m−1)n+j}] concatenated along the first data axis (features of vectors,
channels of images), the order of the authors' code, which draws the m members of every pack as
m separate batches and concatenates them along the feature axis. D(pack) is one logit, so a
packed D returns (n, 1) for a batch of B: every loss term is then a term per pack.
"""

from __future__ import annotations

from collections.abc import Sequence

from torch import Tensor, nn

from thermogan.errors import ConfigError


def packed_shape(shape: Sequence[int], packs: int) -> tuple[int, ...]:
    """The shape of one pack of ``packs`` samples of ``shape``: (m·d,) or (m·C, H, W)."""
    if packs < 1:
        raise ValueError(f"packs={packs!r}: must be >= 1 (1: no packing)")
    return (packs * int(shape[0]), *(int(s) for s in shape[1:]))


class PackedDiscriminator(nn.Module):
    """samples (B, ...) -> logits (B/m, 1): ``inner`` applied to the packs of ``pack``."""

    def __init__(self, inner: nn.Module, packs: int) -> None:
        super().__init__()
        packed_shape((1,), packs)
        self.inner, self.packs = inner, packs

    def pack(self, x: Tensor) -> Tensor:
        """x (B, d) or (B, C, H, W) -> packs (B/m, m·d) or (B/m, m·C, H, W); pack j holds rows
        j, n + j, ..., (m − 1)n + j with n = B/m. ConfigError when m does not divide B."""
        m, batch = self.packs, x.shape[0]
        if batch % m:
            raise ConfigError(f"model.discriminator.packs={m}: a batch of {batch} samples does "
                              f"not divide into packs of {m}; set train.batch_size to a "
                              f"multiple of {m} (per process under torchrun)")
        chunks = x.reshape(m, batch // m, *x.shape[1:])  # (m, n, ...)
        return chunks.transpose(0, 1).flatten(1, 2)  # (n, m·d) or (n, m·C, H, W)

    def forward(self, x: Tensor) -> Tensor:
        return self.inner(self.pack(x))  # (B/m, 1)


def pack_size(net: nn.Module) -> int:
    """How many samples ``net`` judges at once: m for a packed D, 1 otherwise."""
    return net.packs if isinstance(net, PackedDiscriminator) else 1


def packed(net: nn.Module, packs: int, num_classes: int | None = None) -> nn.Module:
    """``net`` (built for packs of ``packs`` samples) judging packs; ``net`` itself when
    ``packs`` is 1. A class-conditional D is refused: a pack of m samples has m labels."""
    if packs == 1:
        return net
    if num_classes is not None:
        raise ValueError(f"packs={packs}: a packed D has no single label per pack; use packs: 1 "
                         "with model.conditional: true")
    return PackedDiscriminator(net, packs)
