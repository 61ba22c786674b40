"""The moving average of G's weights, with the usual warm-up of its decay.

After n averaged steps (counted from the average's last restart: each temperature level starts a
new one) the average moves towards G's weights with the decay ``min(decay, (1 + n) / (10 + n))``,
TensorFlow's ``ExponentialMovingAverage`` with ``num_updates``. Without it, an average of decay
0.999 is still 74 % its first weights after 300 steps: a short run's EMA generator would report
the untrained network (0 of 8 modes where G itself covers 8). From n ≈ 10 / (1 − decay) on, the
warm-up no longer binds, so long runs average as before.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor


def warmed(decay: float, n: int) -> float:
    """The decay in force after ``n`` averaged steps."""
    return min(decay, (1 + n) / (10 + n))


def warmed_ema(decay: float) -> Callable[[list[Tensor], list[Tensor], Tensor | int], None]:
    """``AveragedModel``'s ``multi_avg_fn``: every average moves towards its current weights by
    ``1 − warmed(decay, n)``. ``AveragedModel`` hands it the tensors of one dtype at a time; the
    integer buffers of batch norm (its count of batches) are averaged and rounded down, as torch's
    own EMA does."""
    @torch.no_grad()
    def update(averaged: list[Tensor], current: list[Tensor], n: Tensor | int) -> None:
        d = warmed(decay, int(n))
        if averaged[0].is_floating_point() or averaged[0].is_complex():
            torch._foreach_lerp_(averaged, current, 1 - d)
            return
        for average, value in zip(averaged, current):
            average.copy_(average * d + value * (1 - d))
    return update
