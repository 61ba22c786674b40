"""Gaussian weight initialisation, N(0, std²) weights and zero biases: the initialisation of the
PacGAN toy experiments (Lin et al. 2018; their code draws every weight of G and D from
N(0, 0.02²) and sets every bias to 0)."""

from __future__ import annotations

from torch import nn

INITIALISED = (nn.Linear, nn.Conv2d, nn.ConvTranspose2d)


def normal_init(module: nn.Module, std: float) -> nn.Module:
    """``module`` with every linear and convolution weight drawn from N(0, std²) and every bias
    set to 0 (batch norm keeps its gain 1 and bias 0); ValueError unless std > 0."""
    if not std > 0:
        raise ValueError(f"init_std={std!r}: must be > 0")
    for m in module.modules():
        if isinstance(m, INITIALISED):
            nn.init.normal_(m.weight, 0.0, std)
            if m.bias is not None:
                nn.init.zeros_(m.bias)
    return module
