"""Figures for TensorBoard, so a live run can be watched: what D sees against G's samples.

The levels themselves are logged as scalars with every line of metrics.jsonl
(``train/logging.py``); this callback adds, every N steps and at the end, an image under the tag
``samples``: for points, a scatter of the data as D sees them (tempered) against generated
samples, titled with the step and the current levels; for images, the grids ``samples/generated``
and ``samples/seen`` (the data as D sees them). It draws from its own seeded generators: a run
with it trains exactly as a run without it. Its events file sits beside the metrics' in the run
directory, which TensorBoard reads as one run.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from thermogan.report.figures import data_vs_samples_figure
from thermogan.report.images import tile
from thermogan.train.trainer import Trainer


class LiveFigures:
    """A training callback writing a figure of ``n`` samples to TensorBoard every ``every``
    steps and at step ``total_steps``."""

    def __init__(self, writer: Any, every: int, total_steps: int, n: int, seed: int) -> None:
        self.writer, self.every, self.total, self.n, self.seed = writer, every, total_steps, n, seed

    def __call__(self, trainer: Trainer) -> None:
        step = trainer.step
        if step % self.every and step != self.total:
            return
        gen = torch.Generator(trainer.device).manual_seed(self.seed)
        with torch.no_grad():
            real = trainer.data.sample(self.n, gen, trainer.device).x  # (n, ...)
            seen = trainer.see(real, "real", generator=gen).cpu().numpy()
        fake = trainer.sample(self.n, self.seed).numpy()
        if trainer.data.is_image:
            self.writer.add_image("samples/generated", tile(fake), step, dataformats="HWC")
            self.writer.add_image("samples/seen", tile(seen), step, dataformats="HWC")
        else:
            levels = ", ".join(f"{k} {v:.3g}" for k, v in trainer.describe().items())
            title = f"step {step}" + (f": {levels}" if levels else "")
            self.writer.add_figure("samples", data_vs_samples_figure(seen, fake, title), step)
        self.writer.flush()

    def close(self) -> None:
        self.writer.close()


def live_figures(run_dir: str | Path, every: int, total_steps: int, n: int, seed: int,
                 resume_step: int | None = None) -> LiveFigures | None:
    """A LiveFigures writing into ``run_dir``; None when TensorBoard is not installed. On a
    resumed run, figures logged after ``resume_step`` are dropped, as the metrics' are."""
    try:
        from torch.utils.tensorboard import SummaryWriter
    except ImportError:  # TensorBoard is an optional extra
        return None
    writer = SummaryWriter(str(run_dir), purge_step=resume_step, filename_suffix=".figures")
    return LiveFigures(writer, every, total_steps, n, seed)
