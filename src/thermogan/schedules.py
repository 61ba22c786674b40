"""Schedules: pure functions of the trainer's step, frozen and serialisable.

A schedule remembers nothing; the trainer's step is the only counter, so a resumed run sees the
same values as an uninterrupted one. Every schedule turns into a plain dict with ``to_dict()`` and
back with ``schedule_from_dict``; a config names a schedule by its ``kind``.

Shapes implemented (t is the step, counted from 0):

- ``Constant``: c.
- ``Linear``: from ``start`` to ``end`` over ``steps`` steps, then ``end``.
- ``Geometric``: K levels from ``start`` to ``end``, ``steps`` steps each (β-GAN's cooling,
  Mehrjou & Saremi 2017, Algorithm 1). By default both ends are trained, the levels being
  ``geomspace(start, end, K)``; ``literal=True`` keeps the paper's off-by-one version,
  ``start * a**k`` with ``a = (end/start)**(1/K)``, which never reaches ``end``.
- ``SineDecay``: λ(t) = 1 − sin(tπ / 2K) for t ≤ K, then 0 (Tempered Adversarial Networks).
- ``ExponentialApproach``: α(t) = (α0 − αr)·exp(−t/T) + αr (nonstationary GAN, eq. 7).
- ``LinearToZero``: B − B·t / (fraction·N), until it reaches 0 (variational annealing's PMA for
  B > 0 and NMA for B < 0; fraction = 0.8 in the paper).
- ``DecayingTriangle``: variational annealing's oscillatory schedule (OA). Our reading of the
  paper's figure: peaks at t = kS of value (−1)^k · B · (1 − kS/N), joined linearly (a triangle
  wave of half-period S with alternating sign), and 0 from t = N on.
- ``Stages``: a sequence of schedules, each running for its number of steps on its own clock.
- ``PMA``, ``NMA``, ``OA``: variational annealing's three dynamic schedules as named presets of
  the two above, in our sign of λ (λ > 0 sharpens, λ < 0 broadens; the authors' code uses
  l = −λ). ``bound`` is a magnitude: PMA is LinearToZero with B = −bound (broad first, then the
  data), NMA with B = +bound (sharp first), OA is DecayingTriangle with B = −bound (starts
  broad, then alternates). Their defaults are the code's: fraction 0.8, half-period 10⁴.
"""

from __future__ import annotations

import math
from dataclasses import MISSING, dataclass, field, fields
from typing import Any, ClassVar, Protocol, TypeVar

from thermogan.errors import ConfigError, unknown_key

B = TypeVar("B", bound="Bounded")


def _require(ok: bool, name: str, value: Any, rule: str) -> None:
    if not ok:
        raise ValueError(f"{name}={value!r}: {rule}")


def _span(*values: float) -> tuple[float, float]:
    return float(min(values)), float(max(values))


@dataclass(frozen=True)
class Schedule:
    """Base class: ``schedule(step) -> float``."""

    kind: ClassVar[str] = ""

    def __call__(self, step: int) -> float:
        raise NotImplementedError

    def bounds(self) -> tuple[float, float]:
        """The least and greatest value the schedule takes at any step (``check_range``)."""
        raise NotImplementedError

    def to_dict(self) -> dict[str, Any]:
        """A plain dict (YAML/JSON-ready) that ``schedule_from_dict`` turns back into this."""
        return {"kind": self.kind, **{f.name: getattr(self, f.name) for f in fields(self)}}


@dataclass(frozen=True)
class Constant(Schedule):
    """The same value at every step."""

    kind: ClassVar[str] = "constant"
    value: float

    def __call__(self, step: int) -> float:
        return float(self.value)

    def bounds(self) -> tuple[float, float]:
        return _span(self.value)


@dataclass(frozen=True)
class Linear(Schedule):
    """Linear from ``start`` (step 0) to ``end`` (step ``steps``), then constant."""

    kind: ClassVar[str] = "linear"
    start: float
    end: float
    steps: int

    def __post_init__(self) -> None:
        _require(self.steps > 0, "steps", self.steps, "must be > 0")

    def __call__(self, step: int) -> float:
        frac = min(max(step, 0) / self.steps, 1.0)
        return float(self.start + (self.end - self.start) * frac)

    def bounds(self) -> tuple[float, float]:
        return _span(self.start, self.end)


@dataclass(frozen=True)
class Geometric(Schedule):
    """K geometric levels from ``start`` to ``end``, ``steps`` steps each; the last one holds."""

    kind: ClassVar[str] = "geometric"
    start: float
    end: float
    levels: int
    steps: int
    literal: bool = False

    def __post_init__(self) -> None:
        _require(self.start > 0, "start", self.start, "must be > 0")
        _require(self.end > 0, "end", self.end, "must be > 0")
        _require(self.levels >= 1, "levels", self.levels, "must be >= 1")
        _require(self.steps > 0, "steps", self.steps, "must be > 0")
        _require(self.literal or self.levels >= 2 or self.start == self.end, "levels",
                 self.levels, "must be >= 2 when start != end (both ends are trained)")

    @property
    def total_steps(self) -> int:
        return self.levels * self.steps

    def level(self, step: int) -> int:
        """Index of the level in force at ``step`` (0 … K−1)."""
        return min(max(step, 0) // self.steps, self.levels - 1)

    def value_at_level(self, k: int) -> float:
        if self.literal:
            ratio = (self.end / self.start) ** (1.0 / self.levels)
            return float(self.start * ratio**k)
        if self.levels == 1:
            return float(self.start)
        log_lo, log_hi = math.log(self.start), math.log(self.end)
        return float(math.exp(log_lo + (log_hi - log_lo) * k / (self.levels - 1)))

    def __call__(self, step: int) -> float:
        return self.value_at_level(self.level(step))

    def bounds(self) -> tuple[float, float]:
        return _span(self.value_at_level(0), self.value_at_level(self.levels - 1))


@dataclass(frozen=True)
class SineDecay(Schedule):
    """λ(t) = scale·(1 − sin(tπ / 2K)) for t ≤ K, then 0 (Tempered Adversarial Networks, §3)."""

    kind: ClassVar[str] = "sine_decay"
    horizon: int
    scale: float = 1.0

    def __post_init__(self) -> None:
        _require(self.horizon > 0, "horizon", self.horizon, "must be > 0")

    def __call__(self, step: int) -> float:
        if step >= self.horizon:
            return 0.0
        return float(self.scale * (1.0 - math.sin(max(step, 0) * math.pi / (2 * self.horizon))))

    def bounds(self) -> tuple[float, float]:
        return _span(self.scale, 0.0)


@dataclass(frozen=True)
class ExponentialApproach(Schedule):
    """α(t) = (α0 − αr)·exp(−t/T) + αr, with t = step·dt (nonstationary GAN, eq. 7)."""

    kind: ClassVar[str] = "exponential_approach"
    initial: float
    target: float
    time_constant: float
    dt: float = 1.0

    def __post_init__(self) -> None:
        _require(self.time_constant > 0, "time_constant", self.time_constant, "must be > 0")
        _require(self.dt > 0, "dt", self.dt, "must be > 0")

    def __call__(self, step: int) -> float:
        t = step * self.dt
        return float((self.initial - self.target) * math.exp(-t / self.time_constant) + self.target)

    def bounds(self) -> tuple[float, float]:
        return _span(self.initial, self.target)


@dataclass(frozen=True)
class Hold(Schedule):
    """``value`` for the first ``horizon`` steps, then ``after``: e.g. the ceiling of an adaptive
    level that leaves it free until the clean stage (σ = 0, λ = 0, or β = ∞) of its schedule."""

    kind: ClassVar[str] = "hold"
    horizon: int
    value: float = 1.0
    after: float = 0.0

    def __post_init__(self) -> None:
        _require(self.horizon >= 0, "horizon", self.horizon, "must be >= 0")

    def __call__(self, step: int) -> float:
        return float(self.value if step < self.horizon else self.after)

    def bounds(self) -> tuple[float, float]:
        return _span(self.value, self.after) if self.horizon > 0 else _span(self.after)


@dataclass(frozen=True)
class LinearToZero(Schedule):
    """B − B·t / (fraction·N) until it reaches 0, then 0 (variational annealing, PMA/NMA)."""

    kind: ClassVar[str] = "linear_to_zero"
    bound: float
    total_steps: int
    fraction: float = 0.8

    def __post_init__(self) -> None:
        _require(self.total_steps > 0, "total_steps", self.total_steps, "must be > 0")
        _require(0 < self.fraction <= 1, "fraction", self.fraction, "must be in (0, 1]")

    def __call__(self, step: int) -> float:
        frac = min(max(step, 0) / (self.fraction * self.total_steps), 1.0)
        return float(self.bound * (1.0 - frac))

    def bounds(self) -> tuple[float, float]:
        return _span(self.bound, 0.0)


@dataclass(frozen=True)
class DecayingTriangle(Schedule):
    """Triangle wave of half-period S, alternating sign, decaying linearly to 0 at N (OA)."""

    kind: ClassVar[str] = "decaying_triangle"
    bound: float
    half_period: int
    total_steps: int

    def __post_init__(self) -> None:
        _require(self.half_period > 0, "half_period", self.half_period, "must be > 0")
        _require(self.total_steps > 0, "total_steps", self.total_steps, "must be > 0")

    def _peak(self, k: int) -> float:
        decay = max(1.0 - k * self.half_period / self.total_steps, 0.0)
        return (-1) ** k * self.bound * decay

    def __call__(self, step: int) -> float:
        step = max(step, 0)
        if step >= self.total_steps:
            return 0.0
        k, r = divmod(step, self.half_period)
        frac = r / self.half_period
        return float((1 - frac) * self._peak(k) + frac * self._peak(k + 1))

    def bounds(self) -> tuple[float, float]:  # the first two peaks are the extremes
        return _span(self._peak(0), self._peak(1) if self.half_period < self.total_steps else 0.0)


@dataclass(frozen=True)
class _Preset(Schedule):
    """A schedule of a fixed sign given by the magnitude ``bound``: ``_shape`` builds the
    underlying schedule once, when the preset is made (which also checks its fields)."""

    def __post_init__(self) -> None:
        _require(self.bound > 0, "bound", self.bound,
                 "must be > 0 (a magnitude; the preset sets the sign)")
        object.__setattr__(self, "_built", self._shape())

    def _shape(self) -> Schedule:
        raise NotImplementedError

    def __call__(self, step: int) -> float:
        return self._built(step)

    def bounds(self) -> tuple[float, float]:
        return self._built.bounds()


@dataclass(frozen=True)
class _LinearPreset(_Preset):
    """``sign · bound`` falling linearly to 0 at ``fraction`` of ``total_steps`` (LinearToZero)."""

    sign: ClassVar[float] = 1.0
    total_steps: int
    bound: float = 1.0
    fraction: float = 0.8

    def _shape(self) -> LinearToZero:
        return LinearToZero(self.sign * self.bound, self.total_steps, self.fraction)


@dataclass(frozen=True)
class PMA(_LinearPreset):
    """Variational annealing's PMA: λ from −bound up to 0 at ``fraction`` of ``total_steps``.

    The authors' "positive" refers to their l = −λ (Tao et al. 2019, code); in our convention
    it broadens the target (ρ* ∝ μ^(1+λ) with λ < 0) early and anneals to the data.
    """

    kind: ClassVar[str] = "pma"
    sign: ClassVar[float] = -1.0


@dataclass(frozen=True)
class NMA(_LinearPreset):
    """Variational annealing's NMA: λ from +bound down to 0 (sharpens first; l = −λ < 0)."""

    kind: ClassVar[str] = "nma"
    sign: ClassVar[float] = 1.0


@dataclass(frozen=True)
class OA(_Preset):
    """Variational annealing's OA: a decaying zigzag of half-period ``half_period`` starting at
    λ = −bound (broad; the code's l = +bound), 0 from ``total_steps`` on."""

    kind: ClassVar[str] = "oa"
    total_steps: int
    bound: float = 1.0
    half_period: int = 10000

    def _shape(self) -> DecayingTriangle:
        return DecayingTriangle(-self.bound, self.half_period, self.total_steps)


@dataclass(frozen=True)
class Stage:
    """One part of ``Stages``: ``schedule`` for ``steps`` steps (None: until the end)."""

    schedule: Schedule
    steps: int | None = None
    name: str = ""


@dataclass(frozen=True)
class Stages(Schedule):
    """A sequence of schedules; each sees its own step, counted from the start of its stage."""

    kind: ClassVar[str] = "stages"
    parts: tuple[Stage, ...] = field(default_factory=tuple)

    def __post_init__(self) -> None:
        _require(len(self.parts) > 0, "parts", self.parts, "needs at least one stage")
        for i, part in enumerate(self.parts):
            last = i == len(self.parts) - 1
            _require(part.steps is None and last or part.steps is not None and part.steps > 0,
                     f"parts[{i}].steps", part.steps,
                     "must be > 0 (only the last stage may be open-ended)")

    def starts(self) -> list[int]:
        """The first step of each stage."""
        out, at = [], 0
        for part in self.parts:
            out.append(at)
            at += part.steps or 0
        return out

    def stage(self, step: int) -> int:
        """Index of the stage in force at ``step``; the last stage holds after its end."""
        index = 0
        for i, start in enumerate(self.starts()):
            if step >= start:
                index = i
        return index

    def __call__(self, step: int) -> float:
        i = self.stage(step)
        return self.parts[i].schedule(step - self.starts()[i])

    def bounds(self) -> tuple[float, float]:
        return _span(*(end for part in self.parts for end in part.schedule.bounds()))

    def to_dict(self) -> dict[str, Any]:
        parts = [{"steps": p.steps, "name": p.name, "schedule": p.schedule.to_dict()}
                 for p in self.parts]
        return {"kind": self.kind, "parts": parts}


SCHEDULES: dict[str, type[Schedule]] = {
    cls.kind: cls
    for cls in (Constant, Linear, Geometric, SineDecay, Hold, ExponentialApproach, LinearToZero,
                DecayingTriangle, PMA, NMA, OA, Stages)
}


def _stages_from_dict(spec: dict[str, Any], where: str) -> Stages:
    parts = []
    for i, part in enumerate(spec.get("parts") or []):
        here = f"{where}.parts[{i}]"
        if not isinstance(part, dict):
            raise ConfigError(f"{here}={part!r}: expected a mapping with steps, name, schedule")
        for key in part:
            if key not in ("steps", "name", "schedule"):
                raise unknown_key(here, key, ("steps", "name", "schedule"))
        if "schedule" not in part:
            raise ConfigError(f"{here}.schedule is missing")
        schedule = schedule_from_dict(part["schedule"], f"{here}.schedule")
        parts.append(Stage(schedule, part.get("steps"), str(part.get("name", ""))))
    try:
        return Stages(tuple(parts))
    except ValueError as err:
        raise ConfigError(f"{where}.{err}") from None


def schedule_from_dict(spec: Any, where: str = "schedule") -> Schedule:
    """Build a schedule from ``{"kind": ..., **fields}``; a bare number is a Constant.

    Unknown kinds or fields raise ConfigError naming the closest valid spelling; impossible values
    raise ConfigError naming the field and its value.
    """
    if isinstance(spec, Schedule):
        return spec
    if isinstance(spec, (int, float)) and not isinstance(spec, bool):
        return Constant(float(spec))
    if not isinstance(spec, dict) or "kind" not in spec:
        raise ConfigError(f"{where}={spec!r}: expected a number or a mapping with a 'kind'")
    kind = spec["kind"]
    if kind not in SCHEDULES:
        raise unknown_key(where, str(kind), SCHEDULES, what="schedule kind")
    if kind == "stages":
        for key in spec:
            if key not in ("kind", "parts"):
                raise unknown_key(where, key, ("kind", "parts"))
        return _stages_from_dict(spec, where)
    cls = SCHEDULES[kind]
    valid = {f.name: f for f in fields(cls)}
    for key in spec:
        if key != "kind" and key not in valid:
            raise unknown_key(where, key, ["kind", *valid])
    missing = [name for name, f in valid.items() if name not in spec and _required(f)]
    if missing:
        raise ConfigError(f"{where}: missing {', '.join(missing)} for schedule '{kind}'")
    kwargs = {k: _coerce(f"{where}.{k}", v, valid[k].type) for k, v in spec.items() if k != "kind"}
    try:
        return cls(**kwargs)
    except ValueError as err:
        raise ConfigError(f"{where}.{err}") from None


class Bounded(Protocol):
    """A level whose values lie within known bounds: a schedule, or a controller."""

    def bounds(self) -> tuple[float, float]: ...


def check_range(level: B, where: str, minimum: float | None = None,
                above: float | None = None) -> B:
    """``level``, when every value it takes is >= ``minimum`` and > ``above``; otherwise a
    ConfigError naming ``where`` and the value that is out of range."""
    low, _ = level.bounds()
    if minimum is not None and low < minimum:
        raise ConfigError(f"{where} takes the value {low:g}: must be >= {minimum:g}")
    if above is not None and low <= above:
        raise ConfigError(f"{where} takes the value {low:g}: must be > {above:g}")
    return level


def _required(f: Any) -> bool:
    return f.default is MISSING and f.default_factory is MISSING


def _coerce(where: str, value: Any, annotation: Any) -> Any:
    """Check a scalar field's YAML value against its annotation (int, float, bool)."""
    kind = str(annotation)
    if kind == "bool":
        if not isinstance(value, bool):
            raise ConfigError(f"{where}={value!r}: expected true or false")
        return value
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ConfigError(f"{where}={value!r}: expected a number")
    if kind == "int":
        if float(value) != int(value):
            raise ConfigError(f"{where}={value!r}: expected an integer")
        return int(value)
    return float(value)
