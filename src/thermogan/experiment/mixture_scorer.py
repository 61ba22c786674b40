"""Scoring a generator trained on a toy mixture (``data.family == "mixture"``).

Modes covered, high-quality fraction and reverse KL (the PacGAN protocol: 2,500 samples, high
quality within ``eval.threshold`` std of a centre; ``metrics/modes.py``). One-dimensional data add
the samples' mean and std beside the data's, and whatever G's only term expects of G at its
constant weight (the score regulariser on one Gaussian: the optimum's std σ/√(1+λ),
``objectives/variational.py``), which the term itself says (``expected``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

from thermogan.data.toy import ToyDataset
from thermogan.experiment.config import ExperimentConfig
from thermogan.experiment.scorer import Evaluation, real_and_fake, scored_samples
from thermogan.metrics.modes import mode_coverage
from thermogan.report.figures import data_vs_samples
from thermogan.schedules import Constant
from thermogan.train.trainer import Trainer


class MixtureScorer:
    """The toy mixtures' scorer (``experiment/scorer.py`` gives the contract)."""

    samples = 2500

    def prepare(self, cfg: ExperimentConfig) -> None:
        return None

    def score(self, ev: Evaluation) -> dict[str, Any]:
        data = ev.trainer.data
        samples = ev.trainer.sample(ev.n, ev.cfg.eval.seed, use_ema=ev.use_ema, labels=ev.labels)
        coverage = mode_coverage(samples, data.centers, data.std, ev.cfg.eval.threshold)
        metrics = {"modes": coverage.modes, "high_quality": coverage.high_quality,
                   "reverse_kl": coverage.reverse_kl}
        protocol = {**ev.protocol, "components": len(data.centers), "std": data.std,
                    "threshold_std": ev.cfg.eval.threshold}
        if data.dim == 1:
            metrics |= {"mean": float(samples.mean()), "std": float(samples.std())}
            protocol |= moments_1d(data) | expected(ev.trainer)
        return {"metrics": metrics, "protocol": protocol}

    def headline(self, summary: dict[str, Any]) -> str:
        m, p = summary["metrics"], summary["protocol"]
        text = (f"{m['modes']}/{p['components']} modes, {100 * m['high_quality']:.1f}% HQ, "
                f"KL {float(m['reverse_kl']):.3f}")
        return text + (f"\n{_moments_text(m, p)}" if "std" in m else "")

    def line(self, summary: dict[str, Any], how: str) -> str:
        m, p = summary["metrics"], summary["protocol"]
        moments = f"  {_moments_text(m, p)}" if "std" in m else ""
        return (f"modes {m['modes']}/{p['components']}  high quality {100 * m['high_quality']:.1f}%"
                f"  reverse KL {float(m['reverse_kl']):.4f}{moments}  ({how})")

    def figure(self, cfg: ExperimentConfig, trainer: Trainer, path: Path, title: str) -> Path:
        return data_vs_samples(*real_and_fake(cfg, trainer, scored_samples(cfg, self.samples)),
                               path, title)


def moments_1d(data: ToyDataset) -> dict[str, float]:
    """The data's mean and std (of the whole mixture)."""
    centers = data.centers[:, 0]
    return {"target_mean": float(centers.mean()),
            "target_std": float(math.sqrt(data.std**2 + centers.var()))}


def expected(trainer: Trainer) -> dict[str, float]:
    """What G's only term, at a constant weight, expects of the trained G (its ``expected``);
    {} with several terms, a weight that moves, or a term that expects nothing."""
    if len(trainer.g_terms) != 1:
        return {}
    weighted = trainer.g_terms[0]
    expects = getattr(weighted.term, "expected", None)
    if expects is None or not isinstance(weighted.weight, Constant):
        return {}
    return expects(trainer.data, weighted.weight.value)


def _moments_text(m: dict[str, Any], p: dict[str, Any]) -> str:
    text = (f"mean {m['mean']:.3f} (data {p['target_mean']:.3f}), std {m['std']:.3f} "
            f"(data {p['target_std']:.3f}")
    if "optimum_std" in p:
        text += f", optimum {p['optimum_std']:.3f}"
    return text + ")"
