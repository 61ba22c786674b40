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
from thermogan.schedules import SCHEDULES, Schedule, check_range, schedule_from_dict
from thermogan.step import DStep


class Controller(nn.Module):
    """A level with state in buffers: ``controller(step)`` is its value, ``observe`` updates it,
    ``bounds`` says between which values it stays (a config's level is checked against the range
    its consumer gives it)."""

    def forward(self, step: int) -> float:
        raise NotImplementedError

    def observe(self, d: DStep) -> None:
        """Read the record of the last D step and update the state."""
        raise NotImplementedError

    def describe(self) -> dict[str, float]:
        """Values of the state for the log and the progress bar."""
        return {}

    def bounds(self) -> tuple[float, float]:
        """The least and greatest value the level can take (``schedules.check_range``)."""
        raise NotImplementedError

    def judge_packs(self, packs: int) -> None:
        """D judges ``packs`` samples per logit (PacGAN, ``nets/packed.py``); the build tells
        every controller, so that one counting real images counts ``packs`` per logit."""


class ConstantController(Controller):
    """A controller that holds ``value`` and ignores what it observes (the contract's base case)."""

    def __init__(self, value: float) -> None:
        super().__init__()
        self.register_buffer("value", torch.tensor(float(value), dtype=torch.float64))

    def forward(self, step: int) -> float:
        return float(self.value)

    def observe(self, d: DStep) -> None:
        return None

    def bounds(self) -> tuple[float, float]:
        return float(self.value), float(self.value)


def constant_controller(value: float = 0.0) -> ConstantController:
    """A constant level in a buffer (config ``{kind: constant_controller, value: ...}``)."""
    return ConstantController(value)


class Adaptive(Controller):
    """Adaptive temperature, the way StyleGAN2-ADA sets its augmentation strength (Karras et al.
    2020, "Training Generative Adversarial Networks with Limited Data", §3) and Diffusion-GAN its
    diffusion length (Wang et al. 2023; docs/adaptive.md).

    A heat u ∈ [0, 1] is moved every ``interval`` D steps by ``sign(r − target)·Δ``, where r is
    the mean of E[sign D(real as seen)] over those steps (the overfitting heuristic r_t of ADA:
    D sure of the real data → hotter, D unsure → colder), and Δ = batch·interval/``images``, so
    u can cross [0, 1] in ``images`` real images (ADA: 500k); the batch is counted in images, m
    per logit for a D that judges packs of m (``judge_packs``). The level is u mapped from
    ``cold`` (u = 0) to ``hot`` (u = 1), linearly or, with ``scale: log``, geometrically (β:
    log β between the cold and the hot end). ``ceiling``: a schedule the level never goes beyond
    on the hot side, so that a run still ends cold. State (u and the last r in buffers, the sum of
    signs and the steps counted since the last update as extra state) is in the state dict:
    checkpointed, exact on resume.
    """

    SCALES = ("linear", "log")

    def __init__(self, hot: float, cold: float = 0.0, target: float = 0.6, interval: int = 4,
                 images: int = 500_000, scale: str = "linear", start: float = 0.0,
                 ceiling: Schedule | None = None) -> None:
        super().__init__()
        if scale not in self.SCALES:
            raise ValueError(f"scale={scale!r}: expected {' or '.join(self.SCALES)}")
        if scale == "log" and not (hot > 0 and cold > 0):
            raise ValueError(f"scale=log needs hot > 0 and cold > 0, not {hot!r} and {cold!r}")
        if hot == cold:
            raise ValueError(f"hot={hot!r} equals cold: nothing to adapt")
        if not -1 < target < 1:
            raise ValueError(f"target={target!r}: E[sign D] lies in (-1, 1)")
        if interval < 1 or images < 1:
            raise ValueError(f"interval={interval!r}, images={images!r}: must be >= 1")
        if not 0 <= start <= 1:
            raise ValueError(f"start={start!r}: the heat lies in [0, 1]")
        self.hot, self.cold, self.target, self.interval = float(hot), float(cold), target, interval
        self.images, self.scale, self.ceiling = images, scale, ceiling
        self.register_buffer("heat", torch.tensor(float(start), dtype=torch.float64))
        self.register_buffer("last_r", torch.tensor(float("nan"), dtype=torch.float64))
        self._sum, self._counted = 0.0, 0  # since the last update; in the state (extra state)
        self.packs = 1  # real images per logit of D (set by the build, not state)

    def level_at(self, heat: float) -> float:
        """The level of heat u (no ceiling)."""
        if self.scale == "log":
            return self.cold * (self.hot / self.cold) ** heat
        return self.cold + heat * (self.hot - self.cold)

    def forward(self, step: int) -> float:
        level = self.level_at(float(self.heat))
        if self.ceiling is None:
            return level
        bound = float(self.ceiling(step))
        return min(level, bound) if self.hot > self.cold else max(level, bound)

    def observe(self, d: DStep) -> None:
        logits = d.real_logits  # (B,)
        self._sum += float(torch.sign(logits).mean())
        self._counted += 1
        if self._counted % self.interval == 0:
            r = self._sum / self.interval
            delta = len(logits) * self.packs * self.interval / self.images  # images seen
            move = delta * ((r > self.target) - (r < self.target))
            self.heat.fill_(min(max(float(self.heat) + move, 0.0), 1.0))
            self.last_r.fill_(r)
            self._sum = 0.0

    def describe(self) -> dict[str, float]:
        return {"heat_u": float(self.heat), "sign_r": float(self.last_r),
                "sign_target": float(self.target)}  # report/adaptive.py draws the three

    def judge_packs(self, packs: int) -> None:
        self.packs = int(packs)

    def bounds(self) -> tuple[float, float]:  # between its ends (a ceiling only narrows it)
        return min(self.hot, self.cold), max(self.hot, self.cold)

    def get_extra_state(self) -> dict[str, float | int]:
        return {"sum": self._sum, "counted": self._counted}

    def set_extra_state(self, state: dict[str, float | int]) -> None:
        self._sum, self._counted = float(state["sum"]), int(state["counted"])


def adaptive(hot: float = 1.0, cold: float = 0.0, target: float = 0.6, interval: int = 4,
             images: int = 500_000, scale: str = "linear", start: float = 0.0,
             ceiling: float | dict[str, Any] | None = None) -> Adaptive:
    """ADA-style adaptive level (config ``{kind: adaptive, hot: ..., cold: ...}``; see
    ``Adaptive``): ``hot`` and ``cold`` are the level's values at heat 1 and 0 (left out: the
    tempering's own ends, see ``level_source``); ``ceiling`` a schedule (or number) it never
    passes on the hot side."""
    bound = None if ceiling is None else schedule_from_dict(ceiling, "ceiling")
    return Adaptive(hot, cold, target, interval, images, scale, start, bound)


#: Controller registry: ``factory(**options) -> Controller``.
CONTROLLERS: dict[str, Callable[..., Controller]] = {"constant_controller": constant_controller,
                                                     "adaptive": adaptive}

Level = Schedule | Controller


def level_source(spec: float | dict[str, Any], where: str, minimum: float | None = None,
                 above: float | None = None, **ends: Any) -> Level:
    """A level from a config value: a number, a schedule or a controller, whose values are all
    >= ``minimum`` and > ``above`` (the range in which the level means something: a noise std
    >= 0, an inverse temperature > 0); a ConfigError names ``where`` otherwise.

    ``ends``: the tempering's own reading of a controller's options that the config leaves out
    (an adaptive level's ``hot``, ``cold`` and ``scale``: β-GAN's heat maps the heat u onto log β
    between its own hot and cold ends, instance noise onto σ between its start and 0)."""
    return check_range(_level(spec, where, ends), where, minimum, above)


def _level(spec: float | dict[str, Any], where: str, ends: dict[str, Any]) -> Level:
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
        options = {**{k: v for k, v in ends.items() if k in valid}, **options}
        try:
            return factory(**options)
        except (TypeError, ValueError) as err:
            raise ConfigError(f"{where}: {err}") from None
    return schedule_from_dict(spec, where)
