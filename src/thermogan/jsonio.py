"""JSON files of a run and of a benchmark: one writer, whatever the numbers.

JSON has no infinity or NaN, and ``json.dumps`` writes the non-standard tokens ``Infinity`` and
``NaN`` that strict readers reject. Here a non-finite float is written as the string ``str`` gives
it ("inf", "-inf", "nan"), which ``restore_floats`` (or ``float``) reads back. numpy scalars and
arrays (and torch tensors) become Python numbers and lists, tuples lists and paths strings.

This module imports nothing from thermogan but ``atomic``.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from thermogan.atomic import write_atomic

#: How ``plain`` writes the non-finite floats.
NON_FINITE = ("inf", "-inf", "nan")


def plain(obj: Any) -> Any:
    """``obj`` (nested dicts, lists and tuples) with JSON-safe values, as described above."""
    if isinstance(obj, dict):
        return {key: plain(value) for key, value in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [plain(value) for value in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "tolist"):  # numpy scalars and arrays, torch tensors
        return plain(obj.tolist())
    if isinstance(obj, float) and not math.isfinite(obj):
        return str(obj)
    return obj


def restore_floats(obj: Any) -> Any:
    """``obj`` as read from a file ``plain`` wrote, with the strings "inf", "-inf" and "nan" turned
    back into floats (any string that is exactly one of them, so use it on numbers' files)."""
    if isinstance(obj, dict):
        return {key: restore_floats(value) for key, value in obj.items()}
    if isinstance(obj, list):
        return [restore_floats(value) for value in obj]
    return float(obj) if obj in NON_FINITE else obj


def dumps_line(record: dict[str, Any]) -> str:
    """``record`` as one line of JSON (no newline), for ``.jsonl`` files."""
    return json.dumps(plain(record), allow_nan=False)


def write_json(obj: Any, path: str | Path) -> None:
    """Write ``obj`` to ``path`` as indented JSON with a trailing newline, atomically: a reader
    sees the old file or the new one, never half of one."""
    write_atomic(path, json.dumps(plain(obj), indent=2, allow_nan=False) + "\n")
