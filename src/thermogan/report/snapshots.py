"""Snapshots at the end of each temperature level and stage, and the panel that shows them.

As in the β-GAN papers' figures: what D saw (heated data, blue) against what G made (red), titled
with β and the cumulative number of gradient evaluations Λ, counted as parameter updates
(steps × (D steps + 1)). Snapshots are saved as ``figures/levels/step_N.npz`` when taken, so a
resumed run keeps those taken before the interruption.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from thermogan.report.figures import DATA_COLOR, SAMPLE_COLOR
from thermogan.report.images import image_panels
from thermogan.train.trainer import Trainer


class LevelSnapshots:
    """A training callback: saves a snapshot whenever the tempering's (stage, level) changes.

    ``n`` points are kept per snapshot (use a few dozen for images).
    """

    def __init__(self, run_dir: str | Path, total_steps: int, n: int = 1000, seed: int = 0):
        self.dir = Path(run_dir) / "figures" / "levels"
        self.total, self.n, self.seed = total_steps, n, seed

    def __call__(self, trainer: Trainer) -> None:
        step, tempering = trainer.step, trainer.tempering
        key = getattr(tempering, "level_key", None)
        if step != self.total and (key is None or key(step) == key(step - 1)):
            return
        tempering.set_step(step - 1)  # the level that has just ended
        gen = torch.Generator(trainer.device).manual_seed(self.seed)
        with torch.no_grad():
            seen = tempering(trainer.data.sample(self.n, gen, trainer.device), generator=gen)
        fake = trainer.sample(self.n, self.seed)
        info = tempering.describe()
        self.dir.mkdir(parents=True, exist_ok=True)
        np.savez(self.dir / f"step_{step:09d}.npz", real=seen.cpu().numpy(), fake=fake.numpy(),
                 step=step, updates=step * (trainer.d_steps + 1),
                 beta=info.get("beta", math.inf), stage=info.get("stage", 0))


def _beta_label(beta: float) -> str:
    if beta == 0:
        return "β = 0 (uniform)"
    if math.isinf(beta):
        return "β = ∞ (data)"
    return f"β = {beta:.3g}"


def _title(shot: dict[str, np.ndarray]) -> str:
    return f"{_beta_label(float(shot['beta']))}\nΛ = {int(shot['updates']):,}"


def level_panel(run_dir: str | Path, path: str | Path | None = None, cols: int = 6) -> Path | None:
    """One figure with every snapshot of the run, in order; None when there is none.

    Points: what D saw (blue) against G's samples (red). Images: a grid of G's samples per
    snapshot in ``levels.png`` (as the β-GAN paper's Fig. 3) and what D saw in ``levels_seen.png``.
    """
    files = sorted((Path(run_dir) / "figures" / "levels").glob("step_*.npz"))
    if not files:
        return None
    shots = [dict(np.load(f)) for f in files]
    out = Path(path) if path else Path(run_dir) / "figures" / "levels.png"
    if shots[0]["real"].ndim == 4:  # images (n, C, H, W)
        image_panels([(_title(s), s["fake"]) for s in shots], out, cols,
                     "generated samples at the end of each temperature level")
        image_panels([(_title(s), s["real"]) for s in shots], out.with_name(f"{out.stem}_seen.png"),
                     cols, "what D saw as real (heated data) at each level")
        return out
    dim = shots[0]["real"].shape[1]
    rows = math.ceil(len(shots) / cols)
    fig = Figure(figsize=(2.6 * min(cols, len(shots)), 2.7 * rows), layout="constrained")
    for i, shot in enumerate(shots):
        ax = fig.add_subplot(rows, min(cols, len(shots)), i + 1,
                             projection="3d" if dim == 3 else None)
        real, fake = shot["real"], shot["fake"]
        if dim == 1:
            bins = np.linspace(min(real.min(), fake.min()), max(real.max(), fake.max()), 60)
            ax.hist(real[:, 0], bins, color=DATA_COLOR, alpha=0.5, density=True)
            ax.hist(fake[:, 0], bins, color=SAMPLE_COLOR, alpha=0.5, density=True)
        else:
            size, alpha = (4, 0.7) if dim == 3 else (1, 0.4)
            ax.scatter(*real[:, :3].T, s=size, c=DATA_COLOR, alpha=alpha, linewidths=0)
            ax.scatter(*fake[:, :3].T, s=size, c=SAMPLE_COLOR, alpha=alpha, linewidths=0)
        ax.set_title(_title(shot), fontsize=8)
        ax.tick_params(labelsize=6)
    fig.savefig(out, dpi=110)
    return out
