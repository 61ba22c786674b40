"""Scoring a generator trained from an energy (``data: {kind: energy}``, family ``energy``): the
grid protocol of ``metrics/density.py`` and its floor.

Metrics: ``kl_target_model`` and ``kl_model_target`` between the target normalised on the window's
grid and the samples' histogram, ``region_mass`` (the samples' mass per lobe or branch, among
those in the window) and ``outside`` (samples outside the window). The protocol records the grid,
the smoothing, the regions and the target's mass in each, and ``floor_*``: the KLs of as many
samples drawn exactly from the gridded target (seeded by the evaluation seed), the least a
perfect sampler scores at this sample size. The figure is the target's density with the samples
on it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from thermogan.data.energy import EnergyData
from thermogan.experiment.config import ExperimentConfig
from thermogan.experiment.scorer import Evaluation
from thermogan.metrics.density import density_scores, grid_target, sample_grid
from thermogan.report.density import SHOWN, density_vs_samples
from thermogan.train.trainer import Trainer

SAMPLES = 50000  # scored samples: the floor of KL(target‖model) is then about 0.015
CELLS = 50  # grid cells per axis over the window
SUBDIVISIONS = 4  # midpoint-rule points per cell and axis for the target's cell masses
SMOOTHING = 0.01  # pseudo-count added to every cell of the samples' histogram
DEFAULT_WINDOW = 4.0  # [−4, 4]² when the data have no window of their own


def density_summary(data: EnergyData, samples: Tensor, seed: int) -> dict[str, Any]:
    """``{"metrics": ..., "protocol": ...}`` of ``samples`` (N, 2) against ``data``'s target."""
    half = data.window or DEFAULT_WINDOW
    target = grid_target(data.energy, data.regions, len(data.region_names), -half, half, CELLS,
                         SUBDIVISIONS)
    scores = density_scores(samples, target, data.regions, SMOOTHING)
    exact = sample_grid(target, len(samples), np.random.default_rng(seed))
    floor = density_scores(exact, target, data.regions, SMOOTHING)
    metrics = {"kl_target_model": scores.kl_target_model,
               "kl_model_target": scores.kl_model_target,
               "region_mass": list(scores.region_mass), "outside": scores.outside}
    protocol = {"energy": data.name, "window": [-half, half], "cells": CELLS,
                "subdivisions": SUBDIVISIONS, "smoothing": SMOOTHING,
                "reference_std": data.reference_std, "regions": list(data.region_names),
                "target_region_mass": list(target.region_mass),
                "floor_kl_target_model": floor.kl_target_model,
                "floor_kl_model_target": floor.kl_model_target}
    return {"metrics": metrics, "protocol": protocol}


class EnergyScorer:
    """The energies' scorer (``experiment/scorer.py`` gives the contract)."""

    samples = SAMPLES

    def prepare(self, cfg: ExperimentConfig) -> None:
        return None

    def score(self, ev: Evaluation) -> dict[str, Any]:
        samples = ev.trainer.sample(ev.n, ev.cfg.eval.seed, use_ema=ev.use_ema)
        summary = density_summary(ev.trainer.data, samples, ev.cfg.eval.seed)
        return {**summary, "protocol": {**ev.protocol, **summary["protocol"]}}

    def headline(self, summary: dict[str, Any]) -> str:
        """Both KLs and the region masses against the target's."""
        m, p = summary["metrics"], summary["protocol"]
        text = f"KL(t‖m) {m['kl_target_model']:.3f}, KL(m‖t) {m['kl_model_target']:.3f}"
        if len(p["regions"]) > 1:
            masses = "/".join(f"{x:.2f}" for x in m["region_mass"])
            target = "/".join(f"{x:.2f}" for x in p["target_region_mass"])
            text += f", mass {masses} (target {target})"
        return text

    def line(self, summary: dict[str, Any], how: str) -> str:
        """The metrics, the regions by name, and the protocol's grid and floor."""
        m, p = summary["metrics"], summary["protocol"]
        regions = ", ".join(f"{name} {x:.3f} (target {t:.3f})" for name, x, t in zip(
            p["regions"], m["region_mass"], p["target_region_mass"]))
        lo, hi = p["window"]
        return (f"{p['energy']}: KL(target‖model) {m['kl_target_model']:.4f}  KL(model‖target) "
                f"{m['kl_model_target']:.4f}  {regions}  outside the window "
                f"{100 * m['outside']:.1f}%  (grid {p['cells']}² on [{lo:g}, {hi:g}]², smoothing "
                f"{p['smoothing']:g}; an exact sampler scores {p['floor_kl_target_model']:.4f} / "
                f"{p['floor_kl_model_target']:.4f}) ({how})")

    def figure(self, cfg: ExperimentConfig, trainer: Trainer, path: Path, title: str) -> Path:
        samples = trainer.sample(SHOWN, cfg.eval.seed, use_ema=cfg.eval.use_ema).numpy()
        return density_vs_samples(trainer.data, samples, path, title,
                                  trainer.data.window or DEFAULT_WINDOW)
