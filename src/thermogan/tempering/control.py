"""Controllers: levels that remember (adaptive temperature), beside schedules that do not.

A schedule is a pure function of the step. A controller is a level whose value depends on what
training has seen: after each D step it ``observe``s the record (``thermogan.step.DStep``: D's
logits on both sides), and its state lives in buffers, so the tempering that holds it as a
submodule checkpoints it, and a resumed run continues exactly. StyleGAN2-ADA's augmentation
strength p, driven by E[sign D(real)], is the model (Karras et al. 2020).

``level_source(spec, where)`` reads a level from a config: a number (constant), a schedule
``{kind: linear, ...}`` or a controller ``{kind: constant_controller, ...}``.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

import torch
from torch import nn

from thermogan.errors import ConfigError, unknown_key
from thermogan.schedules import SCHEDULES, Schedule, schedule_from_dict
from thermogan.step import DStep


class Controller(nn.Module):
    """A level with state in buffers: ``controller(step)`` is its value, ``observe`` updates it."""

    def forward(self, step: int) -> float:
        raise NotImplementedError

    def observe(self, d: DStep) -> None:
        """Read the record of the last D step and update the state."""
        raise NotImplementedError


class ConstantController(Controller):
    """A controller that holds ``value`` and ignores what it observes (the contract's base case)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.register_buffer("value", torch.tensor(float(value), dtype=torch.float64))

    def forward(self, step: int) -> float:
        return float(self.value)

    def observe(self, d: DStep) -> None:
        return None


def constant_controller(value: float = 0.0) -> ConstantController:
    """A constant level in a buffer (config ``{kind: constant_controller, value: ...}``)."""
    return ConstantController(value)


#: Controller registry: ``factory(**options) -> Controller``.
CONTROLLERS: dict[str, Callable[..., Controller]] = {"constant_controller": constant_controller}

Level = Schedule | Controller


def level_source(spec: float | dict[str, Any], where: str) -> Level:
    """A level from a config value: a number, a schedule or a controller."""
    kind = spec.get("kind") if isinstance(spec, dict) else None
    if kind is not None and kind not in SCHEDULES and kind not in CONTROLLERS:
        raise unknown_key(where, str(kind), [*SCHEDULES, *CONTROLLERS],
                          what="schedule or controller kind")
    if kind in CONTROLLERS:
        factory = CONTROLLERS[kind]
        valid = list(inspect.signature(factory).parameters)
        options = {k: v for k, v in spec.items() if k != "kind"}
        for key in options:
            if key not in valid:
                raise unknown_key(where, key, ["kind", *valid])
        try:
            return factory(**options)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{where}: {err}") from None
    return schedule_from_dict(spec, where)
