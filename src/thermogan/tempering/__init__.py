"""Tempering registry: each entry is ``factory(total_steps, data, **options) -> Tempering``."""

from __future__ import annotations

from collections.abc import Callable

from thermogan.tempering.base import Tempering
from thermogan.tempering.heat import heat
from thermogan.tempering.lens import lens
from thermogan.tempering.noise import instance_noise

TEMPERINGS: dict[str, Callable[..., Tempering]] = {"heat": heat, "instance_noise": instance_noise,
                                                   "lens": lens}
