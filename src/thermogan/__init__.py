"""thermogan: stable GAN training by controlling the temperature of what the discriminator sees.

The public API re-exports the parts that are useful in one's own PyTorch loop: data that return
``Batch``es, the temperings (each with its contract in ``thermogan.tempering.base``), the losses'
per-example terms, the gradient penalties, the record of a D step and the players and G terms
that read it, schedules, controllers, optimizers, networks and metrics. The ``Trainer`` wires
them all.

Each name is imported when first used (``PUBLIC`` says from where), so that ``import thermogan``
and the command line start without loading PyTorch until something needs it.
"""

from __future__ import annotations

import importlib
from importlib.metadata import version
from typing import Any

#: Every public name, and the module that defines it
PUBLIC = {
    **dict.fromkeys(["DATASETS"], "thermogan.data"),
    **dict.fromkeys(["Batch"], "thermogan.data.batch"),
    **dict.fromkeys(["ToyDataset"], "thermogan.data.toy"),
    **dict.fromkeys(["mode_coverage"], "thermogan.metrics.modes"),
    **dict.fromkeys(["DISCRIMINATORS", "GENERATORS"], "thermogan.nets"),
    **dict.fromkeys(["mlp"], "thermogan.nets.mlp"),
    **dict.fromkeys(["LOSSES", "AdversarialLoss", "d_loss", "g_loss", "get_loss"],
                    "thermogan.objectives.adversarial"),
    **dict.fromkeys(["PENALTIES", "Penalty"], "thermogan.objectives.penalties"),
    **dict.fromkeys(["G_TERMS", "WeightedTerm"], "thermogan.objectives.terms"),
    **dict.fromkeys(["OPTIMIZERS"], "thermogan.optim"),
    **dict.fromkeys(["Constant", "DecayingTriangle", "ExponentialApproach", "Geometric", "Linear",
                     "LinearToZero", "SineDecay", "Stages", "schedule_from_dict"],
                    "thermogan.schedules"),
    **dict.fromkeys(["DStep", "GTerm", "Player", "discriminate"], "thermogan.step"),
    **dict.fromkeys(["CONTROLLERS", "TEMPERINGS", "ConstantController", "Controller", "Heat",
                     "InstanceNoise", "Lens", "Tempering"], "thermogan.tempering"),
    **dict.fromkeys(["Trainer"], "thermogan.train.trainer"),
}

__version__ = version("thermogan")  # pyproject.toml's, as installed
__all__ = sorted(PUBLIC)


def __getattr__(name: str) -> Any:
    if name not in PUBLIC:
        raise AttributeError(f"module 'thermogan' has no attribute {name!r}")
    value = getattr(importlib.import_module(PUBLIC[name]), name)
    globals()[name] = value  # imported once
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *PUBLIC])
