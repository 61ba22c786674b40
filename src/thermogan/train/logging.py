"""Training logs: ``metrics.jsonl`` (one JSON object per logged step) and TensorBoard if installed,
and the progress shown on stderr.

On resume, lines logged after the checkpoint's step are dropped, so the log of a resumed run reads
like the log of an uninterrupted one; a run started afresh drops every line, as those of an attempt
killed before its first checkpoint.

Non-finite numbers are written one way, as strings: ``inf``, ``-inf`` and ``nan`` become
``"inf"``, ``"-inf"`` and ``"nan"`` (``thermogan.jsonio.dumps_line``), so every line is strict
JSON; ``thermogan.jsonio.restore_floats`` (or ``float``) turns them back into floats.

Progress goes to stderr: a tqdm bar on a terminal (or a notebook's widget); elsewhere (a log file,
a pipe, CI) one plain line per log line, ``name: step N/M, key=value, ...``, never a flood of
redrawn bars.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

from tqdm.auto import tqdm
from tqdm.autonotebook import tqdm as shown_tqdm  # tqdm.auto's choice: the notebook's or std
from tqdm.std import tqdm as std_tqdm

from thermogan.jsonio import dumps_line


class MetricsLog:
    """Appends records to ``run_dir/<name>`` after those up to ``resume_step`` (none when it is
    None: a fresh run) and mirrors scalars to TensorBoard."""

    def __init__(self, run_dir: str | Path, resume_step: int | None = None,
                 tensorboard: bool = True, name: str = "metrics.jsonl") -> None:
        self.path = Path(run_dir) / name
        self._truncate_after(resume_step or 0)
        self.writer = None
        if tensorboard:
            try:
                from torch.utils.tensorboard import SummaryWriter
            except ImportError:  # TensorBoard is an optional extra
                SummaryWriter = None
            if SummaryWriter is not None:
                self.writer = SummaryWriter(str(run_dir), purge_step=resume_step)
        self.handle = open(self.path, "a")

    def _truncate_after(self, step: int) -> None:
        if not self.path.exists():
            return
        kept = []
        for line in self.path.read_text().splitlines():
            try:
                if json.loads(line).get("step", 0) <= step:
                    kept.append(line)
            except json.JSONDecodeError:  # a line cut short by a kill
                continue
        self.path.write_text("".join(f"{line}\n" for line in kept))

    def write(self, record: dict[str, Any]) -> None:
        self.handle.write(dumps_line(record) + "\n")
        self.handle.flush()
        if self.writer is not None:
            for key, value in record.items():
                if key != "step" and isinstance(value, (int, float)):
                    self.writer.add_scalar(key, value, record["step"])

    def close(self) -> None:
        self.handle.close()
        if self.writer is not None:
            self.writer.close()


class LineProgress:
    """Progress for a stderr that is not a terminal: the part of tqdm's interface ``fit`` uses,
    printing one line ``name: step N/M, key=value, ...`` per ``set_postfix`` (once per log line)."""

    def __init__(self, total: int, initial: int, desc: str) -> None:
        self.total, self.n, self.desc = total, initial, desc

    def update(self, n: int = 1) -> None:
        self.n += n

    def set_postfix(self, postfix: dict[str, str]) -> None:
        values = "".join(f", {key}={value}" for key, value in postfix.items())
        print(f"{self.desc}: step {self.n}/{self.total}{values}", file=sys.stderr, flush=True)

    def close(self) -> None:
        """Nothing to clear: every line is final."""


def progress_bar(total: int, initial: int, desc: str, enabled: bool) -> tqdm | LineProgress:
    """A tqdm bar where one can be redrawn in place (a terminal, a notebook), a LineProgress
    otherwise, or a disabled bar."""
    notebook = shown_tqdm is not std_tqdm  # tqdm.auto draws a widget
    if enabled and not (notebook or sys.stderr.isatty()):
        return LineProgress(total, initial, desc)
    return tqdm(total=total, initial=initial, disable=not enabled, dynamic_ncols=True,
                desc=desc, unit="step")
