"""What an SGLD discriminator costs, against an Adam D (issue [8]).

The trainer on the ring of 8 (MLP 2-128-128 G and D, batch 256, minimax loss) with D's optimizer:
Adam; SGLD with isotropic noise (no variance); SGLD with covariance noise whose gradient variance
comes from per-example gradients (the MLP D takes the one-backward fast path,
``optim/variance.py::linear_variance``) or from 8 micro-batch means. Rounds alternate between the
variants; the median over rounds is reported, with the ratio to Adam, for a whole training step
and for the D step alone. Target (issue [8]): a D step with per-example variance ≤ 2× Adam's.

Usage: python benchmarks/sgld_cost.py [--steps 200] [--rounds 5] [--out bench-out]
Prints a table and writes OUT/sgld_cost.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
from pathlib import Path

import torch
from timing import seconds_per_call

from thermogan.experiment import build, config

VARIANTS = {
    "adam": "{kind: adam, lr: 1.0e-3, betas: [0.5, 0.999]}",
    "sgld isotropic": "{kind: sgld, lr: 1.0e-3}",
    "sgld covariance, per-example": "{kind: sgld, lr: 1.0e-3, noise: covariance}",
    "sgld covariance, 8 micro-batches": "{kind: sgld, lr: 1.0e-3, noise: covariance, "
                                        "variance: microbatch, microbatches: 8}",
}


def seconds_per_step(spec: str, steps: int, d_only: bool) -> float:
    """Seconds per training step (or per D step alone) with D's optimizer ``spec``."""
    cfg = config.load("configs/ring8_vanilla.yaml", [f"optim.d={spec}", "device=cpu",
                                                      "train.batch_size=256"])
    trainer = build.build_trainer(cfg)
    step = trainer.d_step if d_only else trainer.train_step
    step()  # warm-up
    return seconds_per_call(step, steps)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()
    times: dict[tuple[str, bool], list[float]] = {(n, d): [] for n in VARIANTS
                                                  for d in (False, True)}
    for _ in range(args.rounds):
        for (name, d_only), found in times.items():
            found.append(seconds_per_step(VARIANTS[name], args.steps, d_only))
    ms = {key: 1e3 * statistics.median(t) for key, t in times.items()}
    rows = {name: {"ms_per_step": ms[(name, False)],
                   "ratio_to_adam": ms[(name, False)] / ms[("adam", False)],
                   "ms_per_d_step": ms[(name, True)],
                   "d_step_ratio_to_adam": ms[(name, True)] / ms[("adam", True)]}
            for name in VARIANTS}
    print(f"ring of 8, MLP 128x2, batch 256; median of {args.rounds} rounds of {args.steps} "
          f"training steps; {torch.get_num_threads()} threads")
    print(f"{'D optimizer':<34} {'ms/step':>9} {'vs Adam':>9} {'ms/D step':>10} {'vs Adam':>9}")
    for name, row in rows.items():
        print(f"{name:<34} {row['ms_per_step']:>9.2f} {row['ratio_to_adam']:>8.2f}x "
              f"{row['ms_per_d_step']:>10.2f} {row['d_step_ratio_to_adam']:>8.2f}x")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sgld_cost.json").write_text(json.dumps(
        {"benchmark": "sgld_cost", "steps": args.steps, "rounds": args.rounds,
         "threads": torch.get_num_threads(), "torch": torch.__version__,
         "machine": platform.machine(), "results": rows,
         "target": "D step with per-example variance <= 2x an Adam D step"}, indent=2) + "\n")
    print(f"wrote {args.out / 'sgld_cost.json'}")


if __name__ == "__main__":
    main()
