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
from collections.abc import Callable, Iterator
from contextlib import contextmanager, nullcontext
from typing import Any

from thermogan.errors import ThermoganError


class Interrupted(ThermoganError):
    """Training stopped at ``step`` on Ctrl-C, after saving its checkpoints (exit status 130)."""

    exit_code = 130

    def __init__(self, message: str, step: int) -> None:
        super().__init__(message)
        self.step = step


@contextmanager
def handled(signum: int, handler: Callable[[int, Any], None]) -> Iterator[None]:
    """``handler`` for signal ``signum`` while the block runs, the previous one restored after;
    outside the main thread (where signals cannot be caught) nothing changes."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signum, handler)
    try:
        yield
    finally:
        signal.signal(signum, previous)


@contextmanager
def between_steps(enabled: bool = True) -> Iterator[threading.Event]:
    """An event set by the first SIGINT while the block runs (module doc); SIGINT's own handler
    is restored after. Outside the main thread, or when not ``enabled``, the event is never set
    and SIGINT keeps its handler."""
    asked = threading.Event()

    def ask(signum: int, frame: Any) -> None:
        if asked.is_set():  # the second Ctrl-C: now
            raise KeyboardInterrupt
        asked.set()

    with handled(signal.SIGINT, ask) if enabled else nullcontext():
        yield asked
