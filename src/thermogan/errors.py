"""Exception types shared by every layer, and the "did you mean" helper for unknown keys."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class ThermoganError(Exception):
    """Base class: the CLI prints these as one line and exits non-zero."""

    exit_code = 1


class ConfigError(ThermoganError, ValueError):
    """A config key, type or value that cannot be used (CLI exit status 2)."""

    exit_code = 2


class UsageError(ThermoganError):
    """A command-line argument that cannot be used (CLI exit status 2, as argparse's own)."""

    exit_code = 2


class CheckpointError(ThermoganError):
    """A checkpoint or run directory that cannot be read, with the file and the reason."""


class DivergenceError(ThermoganError):
    """A loss became NaN or infinite; the last good checkpoint is kept. ``record``: the step, the
    loss and its value, as a diverged run's summary.json gives them."""

    def __init__(self, message: str, step: int, loss: str, value: float) -> None:
        super().__init__(message)
        self.record = {"step": step, "loss": loss, "value": value}

    def __reduce__(self) -> tuple[type, tuple[str, int, str, float]]:
        """Pickled whole (data-parallel replicas gather it)."""
        return DivergenceError, (str(self), *self.record.values())


def closest(key: str, valid: Iterable[str]) -> str | None:
    """The valid name most similar to ``key``, or None when nothing is close."""
    matches = difflib.get_close_matches(key, list(valid), n=1, cutoff=0.5)
    return matches[0] if matches else None


def unknown_key(where: str, key: str, valid: Iterable[str], what: str = "key") -> ConfigError:
    """A ConfigError for an unknown key (or registry name) at ``where``, and the closest one."""
    valid = sorted(valid)
    near = closest(key, valid)
    if what == "key":
        full = f"{where}.{key}" if where else key
        hint = f"did you mean '{where + '.' if where else ''}{near}'?" if near else ""
        text = f"unknown key '{full}'"
    else:
        hint = f"did you mean '{near}'?" if near else ""
        text = f"unknown {what} '{key}'" + (f" at {where}" if where else "")
    hint = hint or (f"valid: {', '.join(valid)}" if valid else "none is registered yet")
    return ConfigError(f"{text}; {hint}")
