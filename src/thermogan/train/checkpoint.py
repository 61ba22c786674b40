"""Checkpoints: one dict, written atomically, read back without unpickling arbitrary objects.

Writing goes to a temporary file in the same folder, which is flushed, synced and then renamed over
the target, so a process killed mid-write leaves the previous checkpoint intact. The runs of one
shared computation (a pack, a seed ensemble) must stand at one step for it to resume exactly, so
their checkpoints are written in two phases: each run's whole state first as ``pending.pt``
beside its ``latest.pt``, then every pending state renamed over its latest (``commit``); after a
kill, ``settle`` finishes a write whose first phase had ended and undoes one that had not. Reading
uses ``torch.load(weights_only=True)``, which accepts only tensors and plain containers.
"""

from __future__ import annotations

import errno
import os
import pickle
import re
import shutil
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from thermogan.errors import CheckpointError

#: A run's state written whole, waiting for the other runs of its computation (``commit``)
PENDING = "pending.pt"

REQUIRED = ("step", "generator", "discriminator", "g_optimizer", "d_optimizer", "rng", "config")


def _own_storage(value: Any) -> Any:
    """``value`` with each tensor that views a larger storage (a stacked member's weights,
    ``train/ensemble.py``) copied to a storage of its own: torch saves a view's whole storage."""
    if isinstance(value, dict):
        return {key: _own_storage(v) for key, v in value.items()}
    if isinstance(value, list):
        return [_own_storage(v) for v in value]
    if isinstance(value, torch.Tensor) and value.untyped_storage().nbytes() > value.nbytes:
        return value.clone()
    return value


def save_checkpoint(state: dict[str, Any], path: str | Path) -> None:
    """Write ``state`` to ``path`` atomically (temporary file, fsync, rename); each tensor with
    a storage of its own."""
    state = _own_storage(state)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            torch.save(state, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except (OSError, RuntimeError) as err:  # torch reports a failed write as a RuntimeError
        free = shutil.disk_usage(path.parent).free
        why = "the disk is full" if free < 2**20 or getattr(err, "errno", None) == errno.ENOSPC \
            else _reason(err)
        kept = "the previous checkpoint is kept" if path.exists() else "none was written before"
        raise CheckpointError(f"checkpoint {path} could not be written ({why}); {kept}") from None
    finally:
        tmp.unlink(missing_ok=True)
    dir_fd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def _reason(err: Exception) -> str:
    """Why torch could not read a file, in one sentence of ours: never torch's advice to load
    with ``weights_only=False`` (which would run whatever the file holds), no terminal escapes."""
    text = re.sub(r"\x1b\[[0-9;]*[A-Za-z]", "", str(err))
    if isinstance(err, pickle.UnpicklingError):
        refused = re.search(r"GLOBAL (\S+)", text)
        what = f" ({refused.group(1)})" if refused else ""
        return (f"it holds a Python object{what} besides tensors and plain containers; "
                "thermogan does not unpickle objects, as that could run arbitrary code")
    if "central directory" in text or "zip archive" in text:
        return "not a complete PyTorch file: truncated or corrupt"
    first = next((line.strip() for line in text.splitlines() if line.strip()), type(err).__name__)
    return first.split(". ")[0].rstrip(".")


def load_checkpoint(path: str | Path) -> dict[str, Any]:
    """Read a checkpoint; a missing, corrupt or incomplete file raises CheckpointError naming it."""
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:  # torch raises several types for truncated or foreign files
        raise CheckpointError(f"checkpoint {path} cannot be read ({_reason(err)})") from None
    if not isinstance(state, dict):
        raise CheckpointError(f"checkpoint {path} does not hold a dict")
    missing = [key for key in REQUIRED if key not in state]
    if missing:
        raise CheckpointError(f"checkpoint {path} lacks {', '.join(missing)}")
    return state


def pending_path(latest: Path) -> Path:
    """Where the state that will replace ``latest`` waits for the other runs' (``commit``)."""
    return Path(latest).with_name(PENDING)


def commit(latests: Sequence[Path]) -> None:
    """Replace each run's latest checkpoint by its pending state, all of which were written."""
    for latest in latests:
        os.replace(pending_path(latest), latest)


def settle(latests: Sequence[Path]) -> None:
    """Leave the runs of one shared computation at one step after a process killed while it
    wrote their checkpoints: when every run's newest state (pending, else latest) is at one
    step, the pending ones replace their latest (the kill came after the first phase);
    otherwise they are dropped (it came during it: every latest is still at the previous
    step)."""
    waiting = [latest for latest in latests if pending_path(latest).exists()]
    if not waiting:
        return
    pending = {p: _step(pending_path(p)) for p in waiting}
    latest = {p: _step(p) for p in latests}
    newest = {pending.get(p, latest[p]) for p in latests}
    whole = len(newest) == 1 and all(pending[p] > latest[p] for p in waiting)
    for latest in waiting:
        if whole:
            os.replace(pending_path(latest), latest)
        else:
            pending_path(latest).unlink()


def wait_settled(latests: Sequence[Path], poll: float = 0.05) -> None:
    """Wait until no run of ``latests`` has a pending state left: another process (torchrun's
    main one) settles them."""
    while any(pending_path(latest).exists() for latest in latests):
        time.sleep(poll)


def _step(path: Path) -> int:
    """The step of a checkpoint; 0 where there is none."""
    return load_checkpoint(path)["step"] if path.exists() else 0
