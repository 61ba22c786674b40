"""Variational annealing's exactness check, across seeds (issue [9]; Tao et al. 2019).

``configs/va_gauss1d.yaml``: data N(1, 1), an affine G, the RKL-GAN, a static score regulariser
λ. The optimum is ρ* ∝ μ^(1+λ) = N(1, 1/(1+λ)). For λ ∈ {−0.5, 1, 3} and both score sources
(``analytic``, ``dae``) each seed trains the config as it is and scores 20,000 samples; the table
gives the generated std (mean ± standard error over seeds) against the optimum's, and the largest
relative error of any seed. Targets: within 5 % (analytic) and 10 % (DAE).

Usage: python benchmarks/va_exactness.py [--seeds 5] [--workers 1] [--out bench-out]
Prints a table and writes OUT/va_exactness.json and OUT/va_exactness.png (each seed's std against
λ, over the optimum's curve 1/√(1+λ)).
"""

from __future__ import annotations

import argparse
import json
import statistics
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import torch

from thermogan.experiment import build, config
from thermogan.experiment.scoring import evaluate

CONFIG = "configs/va_gauss1d.yaml"
LAMBDAS = (-0.5, 1.0, 3.0)
SCORES = ("analytic", "dae")


def one_run(lam: float, score: str, seed: int) -> dict[str, float]:
    torch.set_num_threads(1)
    cfg = config.load(CONFIG, [f"regulariser.weight={lam}", f"regulariser.score={score}",
                               f"seed={seed}"])
    trainer = build.build_trainer(cfg)
    for _ in range(cfg.train.steps):
        trainer.train_step()
    summary = evaluate(cfg, trainer)
    return {"lambda": lam, "score": score, "seed": seed, **summary["metrics"],
            "optimum_std": summary["protocol"]["optimum_std"]}


def _mean_se(values: list[float]) -> tuple[float, float]:
    se = statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else 0.0
    return statistics.fmean(values), se


def table(runs: list[dict[str, float]]) -> tuple[str, list[dict[str, float]]]:
    lines = ["| λ | optimum std | analytic std | max error | DAE std | max error |",
             "|---|---|---|---|---|---|"]
    rows = []
    for lam in LAMBDAS:
        row: dict[str, float] = {"lambda": lam}
        cells = []
        for score in SCORES:
            mine = [r for r in runs if r["lambda"] == lam and r["score"] == score]
            optimum = mine[0]["optimum_std"]
            mean, se = _mean_se([r["std"] for r in mine])
            worst = max(abs(r["std"] / optimum - 1) for r in mine)
            row |= {"optimum_std": optimum, f"{score}_std": mean, f"{score}_se": se,
                    f"{score}_max_error": worst}
            cells += [f"{mean:.4f} ± {se:.4f}", f"{100 * worst:.1f} %"]
        rows.append(row)
        lines.append(f"| {lam:g} | {row['optimum_std']:.4f} | " + " | ".join(cells) + " |")
    return "\n".join(lines), rows


def figure(runs: list[dict[str, float]], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    lam = np.linspace(-0.7, 3.3, 200)
    ax.plot(lam, 1 / np.sqrt(1 + lam), color="k", lw=1, label="optimum 1/√(1+λ)")
    for score, offset, marker in (("analytic", -0.04, "o"), ("dae", 0.04, "s")):
        mine = [r for r in runs if r["score"] == score]
        ax.scatter([r["lambda"] + offset for r in mine], [r["std"] for r in mine], s=14,
                   marker=marker, alpha=0.7, label=f"{score} score (each seed)")
    ax.set(xlabel="λ (static)", ylabel="std of G's samples",
           title="Exactness: N(1, 1), affine G, RKL-GAN")
    ax.legend(frameon=False)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()
    jobs = [(lam, score, seed) for lam in LAMBDAS for score in SCORES for seed in range(args.seeds)]
    with ProcessPoolExecutor(args.workers) as pool:
        runs = list(pool.map(one_run, *zip(*jobs)))
    text, rows = table(runs)
    print(f"{args.seeds} seeds each, {CONFIG} as it is\n{text}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "va_exactness.json").write_text(json.dumps({"rows": rows, "runs": runs},
                                                           indent=2))
    figure(runs, args.out / "va_exactness.png")


if __name__ == "__main__":
    main()
