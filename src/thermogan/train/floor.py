"""The arithmetic floor of training: a training step's FLOPs, counted, over the machine's
measured matrix-multiply peak.

A step's FLOPs are counted, not assumed: ``step_flops`` runs one training step of a trainer
under ``torch.utils.flop_counter.FlopCounterMode``, which counts the matrix products (linear
layers, convolutions, batched products) of the forward and backward passes, both D's and G's,
with whatever the run's parts add (a lens, a gradient penalty, an SGLD D's per-example
variance). Elementwise work is not counted: the floor is a lower bound. ``matmul_peak`` times
batched float32 products on a given number of threads for about a second and keeps the best
rate. ``floor_seconds`` = FLOPs over that peak: the time no schedule of the same arithmetic on
this machine can beat, against which a bench or a benchmark reports its own time.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import torch
from torch.utils.flop_counter import FlopCounterMode

if TYPE_CHECKING:
    from thermogan.train.trainer import Trainer

#: The batched product ``matmul_peak`` times: (members, rows, inner) @ (members, inner, cols),
#: the shape of a stacked MLP layer on a toy batch, large enough to reach a core's peak
PEAK_SHAPE = (16, 256, 256, 256)


def step_flops(trainer: Trainer) -> int:
    """The FLOPs of one training step of ``trainer`` (it takes that step: count on a trainer
    built for the purpose)."""
    with FlopCounterMode(display=False) as counter:
        trainer.train_step()
    return int(counter.get_total_flops())


def matmul_peak(threads: int, seconds: float = 1.0) -> float:
    """The best rate (FLOP/s) of batched float32 products on ``threads`` threads over about
    ``seconds`` (the thread count is restored after)."""
    members, rows, inner, cols = PEAK_SHAPE
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(members, rows, inner, generator=gen)
    b = torch.randn(members, inner, cols, generator=gen)
    flops = 2 * members * rows * inner * cols
    before = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        torch.bmm(a, b)  # warm up
        best, ends = 0.0, time.perf_counter() + seconds
        while time.perf_counter() < ends:
            started = time.perf_counter()
            torch.bmm(a, b)
            best = max(best, flops / (time.perf_counter() - started))
        return best
    finally:
        torch.set_num_threads(before)


def floor_seconds(flops: float, peak: float) -> float:
    """Seconds of ``flops`` at ``peak`` FLOP/s."""
    return flops / peak
