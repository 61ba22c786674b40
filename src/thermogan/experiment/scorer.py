"""The contract of a data family's scorer, and what the families share.

A data class declares its ``family`` (``data/``); ``SCORERS[family]`` (``experiment/scoring.py``)
scores its runs. A scorer gives the protocol's number of scored samples (``samples``), what it
needs loaded before training (``prepare``: the MNIST classifier and its reference features; None
for most), the scoring (``score``: summary.json's ``metrics``, ``protocol`` and, where metrics
keep their own protocols, ``scores``), the metrics in a few words (``headline``) and in one line
(``line``), and the figure of data against samples (``figure``). A part that knows what its run
should reach says so itself (a G term's ``expected``), so no scorer names a method.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import torch
from torch import Tensor

from thermogan.experiment.config import ExperimentConfig
from thermogan.report.images import image_panels
from thermogan.train.trainer import Trainer


@dataclass(frozen=True)
class Evaluation:
    """One scoring of a run's generator: ``n`` samples drawn with ``cfg.eval.seed`` from G (its
    moving average when ``use_ema``), at ``labels`` (n,) for a conditional G; ``protocol``: what
    every family records (data set, samples, seed, generator, step, labels); ``prepared``: what
    the family's ``prepare`` loaded, when the caller has it already."""

    cfg: ExperimentConfig
    trainer: Trainer
    n: int
    use_ema: bool
    labels: Tensor | None
    protocol: dict[str, Any] = field(default_factory=dict)
    prepared: Any = None


class Scorer(Protocol):
    """How runs of one data family are scored (see the module's docstring)."""

    #: Scored samples when ``eval.samples`` is null: the protocol's.
    samples: int

    def prepare(self, cfg: ExperimentConfig) -> Any:
        """What scoring needs loaded, checked before training starts (None: nothing)."""

    def score(self, ev: Evaluation) -> dict[str, Any]:
        """``{"metrics": ..., "protocol": ...}`` (and ``scores``) of the run's generator."""

    def headline(self, summary: dict[str, Any]) -> str:
        """The metrics of a summary in a few words (figure titles, tables)."""

    def line(self, summary: dict[str, Any], how: str) -> str:
        """One line: the metrics and ``how`` (samples, seed, generator, step)."""

    def figure(self, cfg: ExperimentConfig, trainer: Trainer, path: Path, title: str) -> Path:
        """Data against samples at ``path``."""


def scored_samples(cfg: ExperimentConfig, default: int) -> int:
    """``eval.samples``, or the protocol's ``default`` when it is null."""
    return default if cfg.eval.samples is None else cfg.eval.samples


def real_and_fake(cfg: ExperimentConfig, trainer: Trainer,
                  n: int) -> tuple[np.ndarray, np.ndarray]:
    """``n`` data and ``n`` generated samples as the figures show them (eval seed, eval G)."""
    gen = torch.Generator().manual_seed(cfg.eval.seed + 1)
    real = trainer.data.sample(n, gen, "cpu").x.numpy()
    return real, trainer.sample(n, cfg.eval.seed, use_ema=cfg.eval.use_ema).numpy()


def image_figure(cfg: ExperimentConfig, trainer: Trainer, path: Path, title: str) -> Path:
    """64 data images beside 64 generated ones."""
    real, fake = real_and_fake(cfg, trainer, 64)
    return image_panels([("data", real), ("generated", fake)], path, cols=2, title=title,
                        size=4.0)
