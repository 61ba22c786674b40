"""``fd_mnist`` over training: a callback that scores the generator every N steps.

Records go to ``run_dir/fd_mnist.jsonl`` (step, fd_mnist and the tempering's stage, level and β);
on resume, records after the checkpoint's step are dropped, as for metrics.jsonl. The same latents
(``seed``) are used at every evaluation, so the curve moves only when the generator does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from thermogan.experiment.mnist_scorer import MnistScorer
from thermogan.metrics.features import features_and_digits
from thermogan.report.curves import read_log
from thermogan.report.run_figures import TRACKED
from thermogan.train.logging import MetricsLog
from thermogan.train.trainer import Trainer


class FdTrack:
    """Training callback: ``fd_mnist`` of ``samples`` generated images every ``every`` steps."""

    def __init__(self, run_dir: str | Path, scorer: MnistScorer, every: int, samples: int,
                 seed: int = 0, use_ema: bool = True, resume_step: int | None = None):
        self.scorer, self.every, self.samples = scorer, every, samples
        self.seed, self.use_ema = seed, use_ema
        self.log = MetricsLog(run_dir, resume_step, tensorboard=False, name=TRACKED)

    def __call__(self, trainer: Trainer) -> None:
        if trainer.step % self.every:
            return
        fake = trainer.sample(self.samples, self.seed, self.use_ema)
        feats, _ = features_and_digits(self.scorer.model, fake)
        self.log.write({"step": trainer.step, "fd_mnist": self.scorer.fd(feats),
                        **trainer.describe()})

    def close(self) -> None:
        self.log.close()


def read_track(run_dir: str | Path) -> list[dict[str, Any]]:
    """The records of ``fd_mnist.jsonl`` (empty when the run tracked nothing)."""
    return read_log(run_dir, TRACKED)
