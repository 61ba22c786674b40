"""Writing a file atomically: a reader (or a crash, or a full disk) sees the old file or the new
one, never half of one.

The bytes go to a temporary file beside the target, which is flushed and synced, then renamed over
it; on any failure the temporary file is removed and the target is left as it was. This module
imports nothing from thermogan.
"""

from __future__ import annotations

import os
from pathlib import Path


def write_atomic(path: str | Path, data: bytes | str) -> Path:
    """Write ``data`` (text as UTF-8) to ``path`` atomically; returns the path."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(tmp, "wb") as handle:
            handle.write(data.encode("utf-8") if isinstance(data, str) else data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return path
