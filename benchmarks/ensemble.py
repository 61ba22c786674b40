"""Seed ensembles against sequential single runs (issue [10]).

The vanilla ring-of-8 config (``configs/ring8_vanilla.yaml``: MLP 128×2 G and D, batch 256, Adam,
EMA): a single run's steps per second, and an ensemble of S members' member-steps per second
(S × its steps per second), for S = 1, 8, 32, 64. The speedup is the ensemble's seed throughput
over S sequential single runs'. Rounds alternate between the single run and the ensembles; the
speedup of the medians over rounds is reported, and beside it that of each variant's fastest
round: on a shared host some rounds run slow, and the single run's many small operations lose
more to that than the ensemble's large ones, which flatters the ratio of medians. On 2 CPU
cores these MLPs are compute-bound, so the ceiling is the ratio of batched to unbatched
matrix-product throughput (about 3×), not S×; a GPU goes further (``benchmarks/gpu.py`` runs
``measure`` on CUDA).

Usage: python benchmarks/ensemble.py [--steps 40] [--rounds 3] [--members 1,8,32,64]
       [--threads N] [--out bench-out]
Prints a table and writes OUT/ensemble.json: {"rows": [{"members": S, "speedup": x,
"speedup_fastest": y, ...}, ...]}.
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
from thermogan.train.members import Members

CONFIG = "configs/ring8_vanilla.yaml"
#: Untimed steps before each timed round, so that no variant is timed just after another's
#: memory traffic (a 64-member step evicts the caches a single run's step works in).
WARM = 10


def _trainers(n: int, device: torch.device) -> list:
    cfg = config.load(CONFIG)
    return [build.build_trainer(cfg.model_copy(update={"seed": s}), device) for s in range(n)]


def measure(sizes: list[int], steps: int, rounds: int,
            device: str = "cpu") -> list[dict[str, float]]:
    """A row per ensemble size S: member-steps/s, a single run's steps/s and the speedup, from
    the medians over ``rounds`` alternating rounds of ``steps`` steps (each after WARM untimed
    ones) and from each variant's fastest round."""
    device_ = torch.device(device)
    sync = torch.cuda.synchronize if device_.type == "cuda" else None
    single = _trainers(1, device_)[0]
    ensembles = {s: Members(_trainers(s, device_)) for s in sizes}
    single.train_step()  # warm up every path once
    for ens in ensembles.values():
        ens.train_step()
    times: dict[str, list[float]] = {"single": [], **{str(s): [] for s in sizes}}
    for _ in range(rounds):  # each timed after WARM untimed steps: steady state, as a long run
        for name, step in (("single", single.train_step),
                           *((str(s), ens.train_step) for s, ens in ensembles.items())):
            for _ in range(WARM):
                step()
            times[name].append(seconds_per_call(step, steps, sync))
    single_rate = 1 / statistics.median(times["single"])  # steps/s of one run
    single_best = 1 / min(times["single"])
    rows = []
    for s in sizes:
        rate = s / statistics.median(times[str(s)])  # member-steps/s
        best = s / min(times[str(s)])
        rows.append({"members": s, "member_steps_per_s": rate, "single_steps_per_s": single_rate,
                     "speedup": rate / single_rate, "member_steps_per_s_fastest": best,
                     "single_steps_per_s_fastest": single_best,
                     "speedup_fastest": best / single_best,
                     "round_member_steps_per_s": [s / t for t in times[str(s)]],
                     "round_single_steps_per_s": [1 / t for t in times["single"]]})
    return rows


def table(rows: list[dict[str, float]]) -> str:
    """Medians, and in brackets the fastest rounds (a busy host slows some rounds, most often
    the single run's, whose small operations suffer most)."""
    lines = ["| members | member-steps/s | single run steps/s | speedup (medians) | "
             "speedup (fastest rounds) |", "|---|---|---|---|---|"]
    lines += [f"| {row['members']} | {row['member_steps_per_s']:.0f} "
              f"({row['member_steps_per_s_fastest']:.0f}) | {row['single_steps_per_s']:.0f} "
              f"({row['single_steps_per_s_fastest']:.0f}) | {row['speedup']:.2f}× | "
              f"{row['speedup_fastest']:.2f}× |" for row in rows]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--members", default="1,8,32,64")
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    rows = measure([int(s) for s in args.members.split(",")], args.steps, args.rounds)
    print(f"{CONFIG}, {args.steps} steps × {args.rounds} rounds, {torch.get_num_threads()} "
          f"threads, {platform.processor() or platform.machine()}")
    print(table(rows))
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "ensemble.json").write_text(json.dumps(
        {"config": CONFIG, "threads": torch.get_num_threads(), "steps": args.steps,
         "rounds": args.rounds, "rows": rows}, indent=2))


if __name__ == "__main__":
    main()
