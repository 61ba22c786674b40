"""Stacked members against sequential single runs (issues [10] and [12]).

Rows: seed ensembles of the vanilla ring-of-8 config (``configs/ring8_vanilla.yaml``: MLP 128×2 G
and D, batch 256, Adam, EMA) of S = 1, 8, 32, 64 members, and a *mixed* row: six methods of
``thermogan bench modes`` on the ring (vanilla, instance noise, β-GAN, β-GAN adaptive, the lens,
the Langevin D with ccadl noise), ``--mixed`` seeds each, packed into one step. A row's speedup
is its member-steps per second over those of its members run one after another: S single runs
of the vanilla config, or for the mixed row each method's single run as many times as it has
members.

Each row also says how close it comes to the machine: its FLOPs per step, counted by
``torch.utils.flop_counter.FlopCounterMode`` over one real training step of a single run of
each member's method (summed over the members), and the fraction of the measured batched-matmul
peak (``torch.bmm`` of 32 members' (256 × 128)·(128 × 128) products, the hidden layers' shape)
that those FLOPs at the row's speed reach.

Rounds alternate between every variant; the speedup of the medians over rounds is reported, and
beside it that of each variant's fastest round: on a shared host some rounds run slow, and the
single runs' many small operations lose more to that than the ensembles' large ones, which
flatters the ratio of medians. On 2 CPU cores these MLPs are compute-bound, so the ceiling is the
ratio of batched to unbatched matrix-product throughput (about 3×), not S×; a GPU goes further
(``benchmarks/gpu.py`` runs ``measure`` on CUDA).

Usage: python benchmarks/ensemble.py [--steps 40] [--rounds 3] [--members 1,8,32,64]
       [--mixed 5] [--threads 2] [--out bench-out]
Prints a table and writes OUT/ensemble.json: {"peak_flops_per_s": p, "rows": [{"row": name,
"members": S, "speedup": x, "speedup_fastest": y, "flops_per_step": f, "fraction_of_peak": r,
...}, ...]}.
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import time
from collections.abc import Callable
from pathlib import Path

import torch
import yaml
from timing import seconds_per_call
from torch.utils.flop_counter import FlopCounterMode

from thermogan.experiment import build, config
from thermogan.train.members import Members

CONFIG = "configs/ring8_vanilla.yaml"
#: The mixed row's methods, as ``thermogan bench modes`` spells them (its declaration's names).
MIXED = ("vanilla (saturating)", "instance noise", "β-GAN", "β-GAN (adaptive)", "lens (TAN)",
         "Langevin D (ccadl)")
MODES = Path(build.__file__).parents[1] / "bench" / "modes.yaml"
#: Untimed steps before each timed round, so that no variant is timed just after another's
#: memory traffic (a 64-member step evicts the caches a single run's step works in).
WARM = 10


def _method(name: str) -> tuple[str, list[str]]:
    """A method of bench modes on the ring: its config path and overrides."""
    spec = yaml.safe_load(MODES.read_text())["methods"][name]
    return "configs/" + spec["config"].format(data="ring8"), list(spec.get("overrides", []))


def _trainers(method: tuple[str, list[str]], seeds: int, device: torch.device) -> list:
    cfg = config.load(method[0], method[1])
    return [build.build_trainer(cfg.model_copy(update={"seed": s}), device) for s in range(seeds)]


def flops_per_step(method: tuple[str, list[str]], device: torch.device) -> int:
    """FLOPs of one training step of a single run of ``method`` (its second step), counted."""
    trainer = _trainers(method, 1, device)[0]
    trainer.train_step()
    with FlopCounterMode(display=False) as counter:
        trainer.train_step()
    return counter.get_total_flops()


def bmm_peak(device: torch.device, members: int = 32, batch: int = 256, width: int = 128,
             calls: int = 20, tries: int = 7) -> float:
    """FLOP/s of ``torch.bmm`` on the hidden layers' stacked shape, the fastest of ``tries``
    timings of ``calls`` calls (at the threads in force)."""
    sync = torch.cuda.synchronize if device.type == "cuda" else None
    a = torch.randn(members, batch, width, device=device)
    b = torch.randn(members, width, width, device=device)
    best = min(seconds_per_call(lambda: torch.bmm(a, b), calls, sync) for _ in range(tries))
    return 2 * members * batch * width * width / best


def measure(sizes: list[int], steps: int, rounds: int, device: str = "cpu",
            mixed: int = 0, threads: int | None = None) -> list[dict[str, object]]:
    """A row per ensemble size S, and with ``mixed`` > 0 a row of the six methods of MIXED with
    ``mixed`` seeds each: member-steps/s, the sequential single runs' and the speedup, from the
    medians over ``rounds`` alternating rounds of ``steps`` steps (each after WARM untimed ones)
    and from each variant's fastest round; FLOPs per step and the fraction of the bmm peak.
    ``threads``: torch's CPU threads while timing (building a run of points sets one)."""
    device_ = torch.device(device)
    sync = torch.cuda.synchronize if device_.type == "cuda" else None
    methods = {name: _method(name) for name in MIXED} if mixed else {}
    vanilla = (CONFIG, [])
    flops = {name: flops_per_step(m, device_) for name, m in methods.items()}
    flops[CONFIG] = flops_per_step(vanilla, device_)
    singles: dict[str, Callable[[], object]] = {CONFIG: _trainers(vanilla, 1, device_)[0]
                                               .train_step}
    if mixed:
        singles.update({name: _trainers(m, 1, device_)[0].train_step
                        for name, m in methods.items()})
    ensembles = {str(s): Members(_trainers(vanilla, s, device_)) for s in sizes}
    if mixed:
        ensembles["mixed"] = Members([t for m in methods.values()
                                      for t in _trainers(m, mixed, device_)])
    steps_of = {**singles, **{name: ens.train_step for name, ens in ensembles.items()}}
    if threads is not None:
        torch.set_num_threads(threads)
    for step in steps_of.values():  # warm up every path once
        step()
    times: dict[str, list[float]] = {name: [] for name in steps_of}
    for _ in range(rounds):  # each timed after WARM untimed steps: steady state, as a long run
        for name, step in steps_of.items():
            for _ in range(WARM):
                step()
            times[name].append(seconds_per_call(step, steps, sync))
    peak = bmm_peak(device_)
    rows = []
    for name in ensembles:
        # (method, members of it): what the row's members would run one after another
        parts = [(CONFIG, int(name))] if name != "mixed" else [(m, mixed) for m in methods]
        members = sum(n for _, n in parts)
        sequential = [sum(n * times[m][r] for m, n in parts) for r in range(rounds)]
        fastest = sum(n * min(times[m]) for m, n in parts)
        row_flops = sum(n * flops[m] for m, n in parts)
        t, best = statistics.median(times[name]), min(times[name])
        rows.append({"row": "vanilla seeds" if name != "mixed" else "mixed methods",
                     "members": members, "methods": [m for m, _ in parts],
                     "member_steps_per_s": members / t,
                     "sequential_member_steps_per_s": members / statistics.median(sequential),
                     "speedup": statistics.median(sequential) / t,
                     "member_steps_per_s_fastest": members / best,
                     "sequential_member_steps_per_s_fastest": members / fastest,
                     "speedup_fastest": fastest / best,
                     "flops_per_step": row_flops, "peak_flops_per_s": peak,
                     "fraction_of_peak": row_flops / t / peak,
                     "round_member_steps_per_s": [members / x for x in times[name]],
                     "round_sequential_member_steps_per_s": [members / x for x in sequential]})
    return rows


def table(rows: list[dict[str, object]]) -> str:
    """Medians, and in brackets the fastest rounds (a busy host slows some rounds, most often
    the single runs', whose small operations suffer most)."""
    lines = ["| row | members | member-steps/s | sequential member-steps/s | speedup (medians) | "
             "speedup (fastest rounds) | MFLOP per step | fraction of bmm peak |",
             "|---|---|---|---|---|---|---|---|"]
    lines += [f"| {row['row']} | {row['members']} | {row['member_steps_per_s']:.0f} "
              f"({row['member_steps_per_s_fastest']:.0f}) | "
              f"{row['sequential_member_steps_per_s']:.0f} "
              f"({row['sequential_member_steps_per_s_fastest']:.0f}) | {row['speedup']:.2f}× | "
              f"{row['speedup_fastest']:.2f}× | {row['flops_per_step'] / 1e6:,.0f} | "
              f"{row['fraction_of_peak']:.0%} |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--members", default="1,8,32,64")
    parser.add_argument("--mixed", type=int, default=5, help="seeds per method of the mixed "
                        "row (0: no mixed row)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()
    start = time.perf_counter()
    rows = measure([int(s) for s in args.members.split(",")], args.steps, args.rounds,
                   mixed=args.mixed, threads=args.threads)
    peak = rows[0]["peak_flops_per_s"]
    print(f"{CONFIG}; mixed: {', '.join(MIXED)} × {args.mixed} seeds; {args.steps} steps × "
          f"{args.rounds} rounds, {torch.get_num_threads()} threads, "
          f"{platform.processor() or platform.machine()}; bmm peak {peak / 1e9:.0f} GFLOP/s; "
          f"{time.perf_counter() - start:.0f} s")
    print(table(rows))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ensemble.json").write_text(json.dumps(
        {"config": CONFIG, "mixed": list(MIXED), "mixed_seeds": args.mixed,
         "threads": torch.get_num_threads(), "steps": args.steps, "rounds": args.rounds,
         "peak_flops_per_s": peak, "rows": rows}, indent=2, ensure_ascii=False))


if __name__ == "__main__":
    main()
