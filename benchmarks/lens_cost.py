"""What the lens (Tempered Adversarial Networks) adds to a training step, by lens width.

One step = one D step on (L(x) detached, G(z) detached), one lens step with D fixed, one G step,
with L(x) computed once; DCGAN at 32×32 (1 channel, z 100), batch 64, Adam, the real Trainer on
random images (the data do not change the cost). For DCGAN widths C = 32 and 64, the time per
step with no lens and with lenses of 8, 16 and 32 channels (8 residual blocks); rounds alternate
between variants and the median is reported, with the ratio to the step without a lens.

Usage: python benchmarks/lens_cost.py [--steps 10] [--rounds 3] [--out bench-out]
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

import torch
from timing import seconds_per_call

from thermogan.data.images import ImageData
from thermogan.nets.dcgan import dcgan_discriminator, dcgan_generator
from thermogan.optim import adam
from thermogan.tempering.lens import Lens
from thermogan.train.trainer import Trainer

SHAPE = (1, 32, 32)


def trainer(c: int, lens_width: int | None) -> Trainer:
    torch.manual_seed(0)
    data = ImageData(torch.rand(512, *SHAPE) * 2 - 1)
    G, D = dcgan_generator(100, SHAPE, c), dcgan_discriminator(SHAPE, c)
    opts = [adam(m.parameters(), 1e-4) for m in (G, D)]
    temperings = [] if lens_width is None else [Lens.for_run(10**6, data, width=lens_width)]
    return Trainer(G, D, data, z_dim=100, g_optimizer=opts[0], d_optimizer=opts[1],
                   batch_size=64, temperings=temperings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--widths", default="32,64", help="DCGAN widths C")
    parser.add_argument("--lens-widths", default="8,16,32")
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()

    rows = []
    lens_widths = [None, *(int(w) for w in args.lens_widths.split(","))]
    for c in (int(w) for w in args.widths.split(",")):
        trainers = {w: trainer(c, w) for w in lens_widths}
        for t in trainers.values():
            seconds_per_call(t.train_step, 2)  # warm-up
        times: dict[int | None, list[float]] = {w: [] for w in lens_widths}
        for _ in range(args.rounds):
            for w, t in trainers.items():
                times[w].append(seconds_per_call(t.train_step, args.steps))
        base = statistics.median(times[None])
        for w in lens_widths:
            ms = 1000 * statistics.median(times[w])
            rows.append({"C": c, "lens_width": w, "ms_per_step": ms, "ratio": ms / (1000 * base)})

    threads = torch.get_num_threads()
    lines = [f"| DCGAN C | lens width | ms / step ({threads} threads) | × step without lens |",
             "|---|---|---|---|"]
    lines += [f"| {r['C']} | {r['lens_width'] or 'none'} | {r['ms_per_step']:.1f} | "
              f"{r['ratio']:.2f} |" for r in rows]
    print("\n".join(lines))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "lens_cost.json"
    path.write_text(json.dumps({"threads": threads, "steps": args.steps, "rounds": args.rounds,
                                "rows": rows}, indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
