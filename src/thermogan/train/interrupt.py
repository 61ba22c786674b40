"""Ctrl-C between steps: an interrupted run saves where it stopped.

While ``between_steps()`` is active, the first SIGINT (Ctrl-C) only asks the loop to stop: the
step in progress finishes, the loop writes every run's checkpoint and raises ``Interrupted`` with
that step, so a resume loses nothing and continues exactly. A second Ctrl-C stops at once (the
last checkpoint is then the periodic one). Data-parallel replicas are not given this: they would
each stop at a step of their own, so there SIGINT interrupts at once, as before.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from thermogan.errors import ThermoganError


class Interrupted(ThermoganError):
    """Training stopped at ``step`` on Ctrl-C, after saving its checkpoints (exit status 130)."""

    exit_code = 130

    def __init__(self, message: str, step: int) -> None:
        super().__init__(message)
        self.step = step


@contextmanager
def between_steps(enabled: bool = True) -> Iterator[threading.Event]:
    """An event set by the first SIGINT while the block runs (module doc); SIGINT's own handler
    is restored after. Outside the main thread (where signals cannot be caught), or when not
    ``enabled``, the event is never set and SIGINT keeps its handler."""
    asked = threading.Event()
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield asked
        return

    def ask(signum: int, frame: Any) -> None:
        if asked.is_set():  # the second Ctrl-C: now
            raise KeyboardInterrupt
        asked.set()

    previous = signal.signal(signal.SIGINT, ask)
    try:
        yield asked
    finally:
        signal.signal(signal.SIGINT, previous)
