"""One writer per run folder: the process that trains into a folder holds its lock.

``hold(folder)`` takes an exclusive, non-blocking ``flock`` on ``folder/.lock`` and writes the
holder's process id and host into it. A second process that tries gets one line naming the holder
instead of interleaving its checkpoints and metrics with the first's. The operating system
releases the lock when the holder ends, however it ends (a SIGKILL included), so a killed run
never leaves a stale lock behind; the file itself stays, empty of meaning until the next holder.
POSIX only (``fcntl``), as the rest of the run machinery.
"""

from __future__ import annotations

import fcntl
import os
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from thermogan.errors import ThermoganError
from thermogan.experiment.layout import LOCK


class RunLockedError(ThermoganError):
    """Another process is training into the folder."""


@contextmanager
def hold(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s lock (the folder is made when missing) for the ``with`` block."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(folder / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise RunLockedError(f"{folder} is being trained by {_holder(fd)}; wait for it to "
                                 "end, or choose another folder with --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()} {socket.gethostname()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the lock


def _holder(fd: int) -> str:
    """Who holds the lock, as its file says ("process 1234 on host")."""
    words = os.pread(fd, 256, 0).decode(errors="replace").split()
    return f"process {words[0]} on {words[1]}" if len(words) == 2 else "another process"
