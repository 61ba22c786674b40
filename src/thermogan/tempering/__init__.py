"""What D sees. Tempering registry: each entry is ``factory(total_steps, data, **options)``.

The classes are exported beside the registry; the modules (``heat``, ``noise``, ``lens``,
``control``) keep their names, each holding the pure math of its tempering.
"""

from __future__ import annotations

from collections.abc import Callable

from thermogan.tempering.base import SIDES, Tempering
from thermogan.tempering.blur import Blur
from thermogan.tempering.control import CONTROLLERS, ConstantController, Controller, level_source
from thermogan.tempering.heat import Coupling, Heat
from thermogan.tempering.lens import Lens, LensNet, LensPlayer
from thermogan.tempering.noise import InstanceNoise

TEMPERINGS: dict[str, Callable[..., Tempering]] = {
    "heat": Heat.for_run, "instance_noise": InstanceNoise.for_run, "lens": Lens.for_run,
    "blur": Blur.for_run,
}

__all__ = ["CONTROLLERS", "SIDES", "TEMPERINGS", "Blur", "ConstantController", "Controller",
           "Coupling", "Heat", "InstanceNoise", "Lens", "LensNet", "LensPlayer", "Tempering",
           "level_source"]
