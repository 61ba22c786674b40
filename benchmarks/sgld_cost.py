"""What an SGLD discriminator costs, against an Adam D (issue [8]).

Two discriminators, each in the trainer with D's optimizer Adam; SGLD with isotropic noise (no
variance); SGLD with covariance noise whose gradient variance comes from per-example gradients or
from 8 micro-batch means:

- ``ring``: the ring of 8 (MLP 2-128-128 G and D, batch 256, minimax loss). Per-example
  gradients take the fast path: the D step's own backward, recorded by
  ``optim/variance.py::Recorder``.
- ``dcgan``: the reduced CPU DCGAN (width 16, no norm in D, 32 × 32 one-channel images, batch 64,
  minimax loss) on random images; per-example gradients from ``torch.func``'s vmap.

Rounds alternate between the variants; the median over rounds is reported, with the ratio to Adam,
for a whole training step and for the D step alone. Target (issue [8]): on the ring, a D step with
per-example variance ≤ 2× Adam's; for DCGAN the ratios are reported.

Usage: python benchmarks/sgld_cost.py [--steps 200] [--rounds 5] [--out bench-out] [--threads N]
(DCGAN runs a tenth of ``--steps``). Prints a table and writes OUT/sgld_cost.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
from pathlib import Path

import numpy as np
import torch
from timing import seconds_per_call

from thermogan.experiment import build, config

VARIANTS = {
    "adam": "{kind: adam, lr: 1.0e-3, betas: [0.5, 0.999]}",
    "sgld isotropic": "{kind: sgld, lr: 1.0e-3}",
    "sgld covariance, per-example": "{kind: sgld, lr: 1.0e-3, noise: covariance}",
    "sgld covariance, 8 micro-batches": "{kind: sgld, lr: 1.0e-3, noise: covariance, "
                                        "variance: {kind: microbatch, microbatches: 8}}",
}


CASES = {"ring": "ring of 8, MLP 2-128-128, batch 256",
         "dcgan": "DCGAN D width 16, no norm, 32x32x1 random images, batch 64"}


def case_overrides(case: str, images: Path) -> tuple[str, list[str], int]:
    """The config, overrides and step divisor of a case."""
    if case == "ring":
        return "configs/ring8_vanilla.yaml", ["train.batch_size=256"], 1
    return "configs/ring8_vanilla.yaml", [
        f"data={{kind: npz, path: {images}}}", "data.box=null",
        "model.generator={kind: dcgan, width: 16}",
        "model.discriminator={kind: dcgan, width: 16, norm: none}", "model.z_dim=100",
        "train.batch_size=64", "train.ema=null"], 10


def seconds_per_step(case: str, images: Path, spec: str, steps: int, d_only: bool) -> float:
    """Seconds per training step (or per D step alone) of ``case`` with D's optimizer ``spec``."""
    path, overrides, divisor = case_overrides(case, images)
    cfg = config.load(path, [*overrides, f"optim.d={spec}", "device=cpu"])
    trainer = build.build_trainer(cfg)
    step = trainer.d_step if d_only else trainer.train_step
    step()  # warm-up
    return seconds_per_call(step, max(steps // divisor, 2))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    parser.add_argument("--threads", type=int, default=None, help="torch threads (default: "
                        "torch's); 1 when another job shares the cores")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as tmp:
        images = Path(tmp) / "images.npz"
        rng = np.random.default_rng(0)
        np.savez(images, rng.integers(0, 256, (512, 32, 32), dtype=np.uint8))
        times = {(case, name, d_only): [] for case in CASES for name in VARIANTS
                 for d_only in (False, True)}
        for _ in range(args.rounds):
            for (case, name, d_only), found in times.items():
                found.append(seconds_per_step(case, images, VARIANTS[name], args.steps, d_only))
    ms = {key: 1e3 * statistics.median(t) for key, t in times.items()}
    results = {case: {name: {
        "ms_per_step": ms[(case, name, False)],
        "ratio_to_adam": ms[(case, name, False)] / ms[(case, "adam", False)],
        "ms_per_d_step": ms[(case, name, True)],
        "d_step_ratio_to_adam": ms[(case, name, True)] / ms[(case, "adam", True)]}
        for name in VARIANTS} for case in CASES}
    print(f"median of {args.rounds} rounds of {args.steps} training steps (DCGAN: a tenth); "
          f"{torch.get_num_threads()} threads")
    print(f"{'D':<6} {'D optimizer':<34} {'ms/step':>9} {'vs Adam':>9} {'ms/D step':>10} "
          f"{'vs Adam':>9}")
    for case, rows in results.items():
        for name, row in rows.items():
            print(f"{case:<6} {name:<34} {row['ms_per_step']:>9.2f} {row['ratio_to_adam']:>8.2f}x "
                  f"{row['ms_per_d_step']:>10.2f} {row['d_step_ratio_to_adam']:>8.2f}x")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "sgld_cost.json").write_text(json.dumps(
        {"benchmark": "sgld_cost", "steps": args.steps, "rounds": args.rounds,
         "threads": torch.get_num_threads(), "torch": torch.__version__,
         "machine": platform.machine(), "cases": CASES, "results": results,
         "target": "ring: D step with per-example variance <= 2x an Adam D step"},
        indent=2) + "\n")
    print(f"wrote {args.out / 'sgld_cost.json'}")


if __name__ == "__main__":
    main()
