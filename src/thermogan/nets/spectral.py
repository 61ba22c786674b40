"""Spectral normalisation of a discriminator (Miyato et al. 2018, "Spectral Normalization for
Generative Adversarial Networks"): every linear and convolution weight W is used as W / σ(W),
σ(W) its largest singular value, estimated by one step of power iteration per forward pass in
training mode (u ← W v / ‖W v‖, v ← Wᵀ u / ‖Wᵀ u‖, σ ≈ uᵀ W v), so each layer is 1-Lipschitz.

Built on ``torch.nn.utils.parametrizations.spectral_norm``: the raw weight is stored as
``<layer>.parametrizations.weight.original`` and the power iteration's vectors u and v as
buffers beside it, so a checkpoint holds them and a resumed run continues the same iteration.
Class embeddings of a projection discriminator are left as they are.
"""

from __future__ import annotations

from torch import nn
from torch.nn.utils.parametrizations import spectral_norm

NORMALISED = (nn.Linear, nn.Conv2d)


def spectral_normalised(net: nn.Module, on: bool = True) -> nn.Module:
    """``net`` with every linear and convolution layer spectrally normalised (in place) when
    ``on``; ``net`` unchanged otherwise."""
    if on:
        for layer in [m for m in net.modules() if isinstance(m, NORMALISED)]:
            spectral_norm(layer)
    return net
