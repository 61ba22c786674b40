"""Time per training step: thermogan's Trainer against a plain hand-written PyTorch loop.

Both train the same networks (MLP 2-128-128-2 and 2-128-128-1), batch 256, Adam(1e-3, (0.5, 0.999)),
the unmodified minimax loss, on the ring of 8. The plain loop is written as one would by hand,
with ``torch.optim.Adam``'s defaults; the library's Adam is PyTorch's fused kernel
(``optim.adam``), which is most of why ``train_step`` can be faster than the plain loop.
Rounds alternate between the variants, and the median over rounds is reported:

- ``plain``: the hand-written loop;
- ``train_step``: ``Trainer.train_step()`` in a bare Python loop;
- ``fit``: the full training loop (progress bar, metrics.jsonl every 100 steps, NaN guard; one
  checkpoint at the end of each round);
- ``plain (conditional)`` and ``train_step (conditional)``: the same with class-conditional
  networks on the ring's 8 components (G(z, y) with a label embedding, a projection D(x, y)),
  the plain loop drawing labels by hand.

Target: ``train_step`` ≤ 1.05 × ``plain`` (and the same for the conditional pair).

Usage: python benchmarks/step_overhead.py [--steps 1000] [--rounds 7] [--out bench-out]
Prints a table and writes OUT/step_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from timing import seconds_per_call

from thermogan.data.toy import ring
from thermogan.experiment import build, config
from thermogan.nets.mlp import mlp, mlp_discriminator, mlp_generator
from thermogan.train.loop import fit

BATCH = 256


def plain_loop(steps: int, seed: int = 0) -> float:
    """The reference: seconds for ``steps`` steps of a hand-written loop."""
    torch.manual_seed(seed)
    G, D = mlp(2, 2, (128, 128)), mlp(2, 1, (128, 128))
    g_opt = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999))
    centers = torch.as_tensor(ring().centers, dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(steps):
        idx = torch.randint(8, (BATCH,), generator=gen)
        real = centers[idx] + 0.01 * torch.randn(BATCH, 2, generator=gen)
        fake = G(torch.randn(BATCH, 2, generator=gen)).detach()
        d_loss = F.softplus(-D(real)).mean() + F.softplus(D(fake)).mean()
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
        g_loss = -F.softplus(D(G(torch.randn(BATCH, 2, generator=gen)))).mean()
        g_opt.zero_grad()
        g_loss.backward()
        g_opt.step()
    return time.perf_counter() - start


def plain_conditional_loop(steps: int, seed: int = 0) -> float:
    """The reference with labels: G(z, y) and D(x, y) from the library's conditional MLPs, the
    loop written by hand (labels of real samples are their components, fake ones uniform)."""
    torch.manual_seed(seed)
    G = mlp_generator(2, (2,), (128, 128), num_classes=8)
    D = mlp_discriminator((2,), (128, 128), num_classes=8)
    g_opt = torch.optim.Adam(G.parameters(), 1e-3, betas=(0.5, 0.999))
    d_opt = torch.optim.Adam(D.parameters(), 1e-3, betas=(0.5, 0.999))
    centers = torch.as_tensor(ring().centers, dtype=torch.float32)
    gen = torch.Generator().manual_seed(seed)
    start = time.perf_counter()
    for _ in range(steps):
        y_real = torch.randint(8, (BATCH,), generator=gen)
        real = centers[y_real] + 0.01 * torch.randn(BATCH, 2, generator=gen)
        y_fake = torch.randint(8, (BATCH,), generator=gen)
        fake = G(torch.randn(BATCH, 2, generator=gen), y_fake).detach()
        d_loss = F.softplus(-D(real, y_real)).mean() + F.softplus(D(fake, y_fake)).mean()
        d_opt.zero_grad()
        d_loss.backward()
        d_opt.step()
        y_fake = torch.randint(8, (BATCH,), generator=gen)
        g_loss = -F.softplus(D(G(torch.randn(BATCH, 2, generator=gen), y_fake), y_fake)).mean()
        g_opt.zero_grad()
        g_loss.backward()
        g_opt.step()
    return time.perf_counter() - start


def _config(steps: int, *extra: str) -> config.ExperimentConfig:
    return config.load(None, [f"train.steps={steps}", f"train.batch_size={BATCH}",
                              "train.log_every=100", f"train.checkpoint_every={steps}",
                              "train.progress=false", "train.tensorboard=false", "device=cpu",
                              *extra])


def trainer_steps(steps: int, *extra: str) -> float:
    trainer = build.build_trainer(_config(steps, *extra))
    return steps * seconds_per_call(trainer.train_step, steps)


def fit_loop(steps: int) -> float:
    cfg = _config(steps)
    trainer = build.build_trainer(cfg)
    with tempfile.TemporaryDirectory() as run_dir:
        start = time.perf_counter()
        fit(trainer, run_dir, steps=steps, config=cfg.to_dict(), log_every=100,
            checkpoint_every=steps, progress=True, tensorboard=False)
        return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()

    variants = {"plain": plain_loop, "train_step": trainer_steps, "fit": fit_loop,
                "plain (conditional)": plain_conditional_loop,
                "train_step (conditional)": lambda n: trainer_steps(n, "model.conditional=true")}
    for fn in variants.values():  # warm-up
        fn(100)
    times: dict[str, list[float]] = {name: [] for name in variants}
    for _ in range(args.rounds):
        for name, fn in variants.items():
            times[name].append(fn(args.steps) / args.steps)
    ms = {name: 1e3 * statistics.median(ts) for name, ts in times.items()}
    def reference(name: str) -> str:
        return "plain (conditional)" if "conditional" in name else "plain"

    rows = {name: {"ms_per_step": ms[name], "steps_per_s": 1e3 / ms[name],
                   "ratio_to_plain": ms[name] / ms[reference(name)]} for name in variants}

    print(f"ring of 8, batch {BATCH}, MLP 128x2, Adam; median of {args.rounds} rounds of "
          f"{args.steps} steps; {torch.get_num_threads()} threads")
    print(f"{'variant':<26} {'ms/step':>9} {'steps/s':>9} {'vs its plain loop':>18}")
    for name, row in rows.items():
        print(f"{name:<26} {row['ms_per_step']:>9.3f} {row['steps_per_s']:>9.1f} "
              f"{row['ratio_to_plain']:>17.3f}x")
    args.out.mkdir(parents=True, exist_ok=True)
    result = {"benchmark": "step_overhead", "batch": BATCH, "steps": args.steps,
              "rounds": args.rounds, "threads": torch.get_num_threads(),
              "torch": torch.__version__, "machine": platform.machine(), "results": rows,
              "target": "train_step / plain <= 1.05, conditional likewise"}
    (args.out / "step_overhead.json").write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {args.out / 'step_overhead.json'}")


if __name__ == "__main__":
    main()
