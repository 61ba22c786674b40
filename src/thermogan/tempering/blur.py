"""Coarse-graining: a Gaussian blur of real and generated images before D (the Langevin-stabilised
GAN's A_σ, its eq. 9; docs/langevin.md).

Math (``blurred``): a separable, normalised Gaussian kernel of standard deviation σ *pixels*
(not StyleGAN3's half-width at half-maximum), radius ⌈3σ⌉, applied along rows then columns with
reflect padding; σ = 0 is exactly the identity. The kernel sums to 1, so a constant image stays
constant and a delta spreads to a blob of second moment ≈ σ² per axis (the ±3σ truncation takes
2.7 % off). The map is linear and differentiable: G's gradients flow through it.

σ is a number, a schedule (for instance a linear fade to 0, as StyleGAN3 fades its blur) or a
controller. For vector data, blurring the *distribution* with a Gaussian is the same noise on both
sides of D: that is instance noise (``tempering: {kind: instance_noise}``), so this tempering
refuses vectors rather than duplicating it.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor

from thermogan.schedules import Hold, Linear
from thermogan.tempering.base import Tempering
from thermogan.tempering.control import CONTROLLERS, Level, level_source


def gaussian_kernel(sigma: float, dtype: torch.dtype = torch.float32,
                    device: torch.device | str | None = None) -> Tensor:
    """The normalised 1-D kernel of std ``sigma`` pixels over offsets −⌈3σ⌉ … ⌈3σ⌉."""
    radius = math.ceil(3 * sigma)
    offsets = torch.arange(-radius, radius + 1, dtype=dtype, device=device)  # (2r + 1,)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    return kernel / kernel.sum()


def blurred(x: Tensor, sigma: float) -> Tensor:
    """Images ``x`` (B, C, H, W) blurred by a Gaussian of std ``sigma`` pixels (reflect padding)."""
    if sigma == 0:
        return x
    kernel = gaussian_kernel(sigma, x.dtype, x.device)
    radius = (len(kernel) - 1) // 2
    if radius >= min(x.shape[-2:]):
        raise ValueError(f"sigma={sigma!r}: a kernel of radius {radius} needs images larger "
                         f"than {tuple(x.shape[-2:])} (reflect padding)")
    channels = x.shape[1]
    rows = kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1)  # (C, 1, 1, 2r + 1)
    x = F.conv2d(F.pad(x, (radius, radius, 0, 0), mode="reflect"), rows, groups=channels)
    columns = kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1)  # (C, 1, 2r + 1, 1)
    return F.conv2d(F.pad(x, (0, 0, radius, radius), mode="reflect"), columns, groups=channels)


class Blur(Tempering):
    """Both sides of D blurred by σ(step) pixels; ``sigma`` is a schedule or a controller."""

    sides = ("real", "fake")
    level_attr, label = "sigma", "blur_sigma"

    def __init__(self, sigma: Level) -> None:
        super().__init__(sigma)

    def check(self, value: float, step: int) -> float:
        if value < 0:
            raise ValueError(f"blur sigma={value!r} at step {step}: must be >= 0")
        return value

    def forward(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        return blurred(x, self.value)

    @classmethod
    def for_run(cls, total_steps: int, data: Any, sigma: float | dict[str, Any] = 1.0,
                fade: float | None = None) -> Blur:
        """The blur of a run (config ``tempering: {kind: blur}``): ``sigma`` pixels (a number,
        a schedule or a controller); ``fade``: a number σ falls linearly to 0 over this fraction
        of the run, and an adaptive σ (``{kind: adaptive}``, between 0 and 1 pixel unless told)
        is 0 from where that line would end, unless it names its own ceiling."""
        if not data.is_image:
            raise ValueError("kind=blur: blur acts on images; for vectors the same "
                             "coarse-graining is instance noise (tempering: {kind: "
                             "instance_noise})")
        if isinstance(sigma, (int, float)) and not sigma >= 0:
            raise ValueError(f"sigma={sigma!r}: must be >= 0")
        if fade is None:
            return cls(level_source(sigma, "tempering.sigma", minimum=0.0, hot=1.0, cold=0.0))
        if not 0 < fade <= 1:
            raise ValueError(f"fade={fade!r}: must be in (0, 1]")
        fade_steps = max(1, int(fade * total_steps))
        if isinstance(sigma, (int, float)):
            return cls(Linear(float(sigma), 0.0, fade_steps))
        if not (isinstance(sigma, dict) and sigma.get("kind") in CONTROLLERS):
            raise ValueError(f"fade={fade!r}: fades a number sigma or ends an adaptive one; "
                             "give a schedule without fade instead")
        return cls(level_source(sigma, "tempering.sigma", minimum=0.0, hot=1.0, cold=0.0,
                                ceiling=Hold(fade_steps, math.inf, 0.0)))
