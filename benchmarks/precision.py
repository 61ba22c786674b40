"""train.amp and train.compile: DCGAN training steps per second in float32, with bf16 autocast,
compiled, and compiled with bf16 autocast.

Each mode is the config with ``train.amp`` / ``train.compile`` set, built by ``build_trainer``
(the path ``thermogan train`` takes). Default: ``configs/tan_mnist_gan_cpu.yaml`` without its lens
(DCGAN C = 16, batch 64, Adam, non-saturating loss). The data are random images of the config's
shape (MNIST padded to 32 × 32: the pixel values do not change the cost, and nothing needs to be
downloaded). A mode's first ``--warmup`` steps (the compilation, for the compiled modes) are timed
apart; then rounds of ``--steps`` steps alternate between the modes, and the median is reported,
with the speedup over float32. On a GPU the clock waits for the queued kernels
(``torch.cuda.synchronize``). ``benchmarks/gpu.py`` runs ``measure`` at paper scale on CUDA.

Usage: python benchmarks/precision.py [--config PATH] [--steps 20] [--rounds 3] [--warmup 3]
       [--threads N] [--device cpu] [--out bench-out]
Prints a table and writes OUT/precision.json: {"rows": [{"mode": ..., "steps_per_s": ...}, ...]}.
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

CONFIG = "configs/tan_mnist_gan_cpu.yaml"
#: The configs' lens is a tempering of its own (benchmarks/lens_cost.py): measured without it.
PLAIN = ["tempering=null"]
#: Mode -> the overrides that set it.
MODES = {"float32": [], "bf16": ["train.amp=bf16"], "compile": ["train.compile=true"],
         "compile+bf16": ["train.compile=true", "train.amp=bf16"]}


def random_images(folder: Path, shape: tuple[int, ...], n: int = 2048) -> list[str]:
    """Overrides that replace a config's data by ``n`` random uint8 images of ``shape``
    (C, H, W), written to ``folder/images.npz``."""
    pixels = np.random.default_rng(0).integers(0, 256, (n, *shape[1:], shape[0]), np.uint8)
    path = folder / "images.npz"
    np.savez(path, images=pixels.squeeze(-1) if shape[0] == 1 else pixels)
    return [f"data={{kind: npz, path: '{path}'}}"]


def measure(config_path: str, device: str, steps: int, rounds: int, warmup: int,
            shape: tuple[int, ...] = (1, 32, 32), extra: tuple[str, ...] = (),
            modes: tuple[str, ...] = tuple(MODES)) -> list[dict[str, object]]:
    """A row per mode (of ``MODES``, float32 among them) of ``config_path`` without its tempering,
    on random images of ``shape``, with ``extra`` overrides: steps/s, warm-up seconds, speedup
    over float32."""
    device_ = torch.device(device)
    sync = torch.cuda.synchronize if device_.type == "cuda" else None
    torch.compiler.reset()  # compiled graphs of an earlier config would count against the limit
    with tempfile.TemporaryDirectory() as folder:
        data = random_images(Path(folder), shape)
        trainers = {mode: build.build_trainer(
            config.load(config_path, [*PLAIN, *data, *extra, *overrides]), device_)
            for mode, overrides in MODES.items() if mode in modes}
    warm = {mode: warmup * seconds_per_call(t.train_step, warmup, sync)
            for mode, t in trainers.items()}
    times: dict[str, list[float]] = {mode: [] for mode in trainers}
    for _ in range(rounds):
        for mode, t in trainers.items():
            times[mode].append(seconds_per_call(t.train_step, steps, sync))
    base = statistics.median(times["float32"])
    return [{"config": config_path, "mode": mode, "steps_per_s": 1 / statistics.median(times[mode]),
             "speedup": base / statistics.median(times[mode]), "warmup_s": warm[mode]}
            for mode in trainers]


def table(rows: list[dict[str, object]]) -> str:
    lines = ["| config | mode | steps/s | × float32 | first steps (s) |", "|---|---|---|---|---|"]
    lines += [f"| {Path(str(r['config'])).stem} | {r['mode']} | {r['steps_per_s']:.1f} | "
              f"{r['speedup']:.2f} | {r['warmup_s']:.1f} |" for r in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default=CONFIG)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = measure(args.config, args.device, args.steps, args.rounds, args.warmup)
    print(f"{args.steps} steps × {args.rounds} rounds after {args.warmup} warm-up steps, "
          f"{args.device}, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}, torch {torch.__version__}")
    print(table(rows))
    args.out.mkdir(parents=True, exist_ok=True)
    path = args.out / "precision.json"
    path.write_text(json.dumps({"device": args.device, "threads": torch.get_num_threads(),
                                "torch": torch.__version__, "steps": args.steps,
                                "rounds": args.rounds, "warmup": args.warmup, "rows": rows},
                               indent=2) + "\n")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
