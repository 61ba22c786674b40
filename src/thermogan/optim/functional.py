"""An optimizer's update rule as a pure function of parameters, gradients and state, so that a
loss can be differentiated through several of its steps (Unrolled GAN, ``objectives/unrolled.py``).

``Functional(optimizer, named)`` reads a live ``torch.optim.Adam`` or ``torch.optim.SGD``: each
parameter's hyperparameters (its group's, at the time of the call: a scheduled learning rate is
the one of this step) and its state (Adam's moments and step count, SGD's momentum buffer). Its
``step(params, grads)`` returns the parameters after one update, ``torch.optim``'s formulas
written out of place, and advances its own copy of the state; the live optimizer is left alone.

- Adam (Kingma & Ba 2015, torch's L2 ``weight_decay``): g ← g + λθ; m ← β₁m + (1 − β₁)g;
  v ← β₂v + (1 − β₂)g²; t ← t + 1; θ ← θ − lr/(1 − β₁ᵗ) · m / (√v / √(1 − β₂ᵗ) + ε).
- SGD: g ← g + λθ; with momentum μ, b ← μb + g (b ← g at the first step), g ← b; θ ← θ − lr·g.

√v is taken so that an entry with v = 0 (a unit whose gradient has always been 0) has gradient
0, not 0·∞ = NaN, when the update is differentiated.
"""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor, nn

#: The optimizers whose update is written here, by type.
SUPPORTED = (torch.optim.Adam, torch.optim.SGD)


def check(optimizer: torch.optim.Optimizer) -> None:
    """ValueError (one line) when ``optimizer``'s update is not one written here."""
    kind = type(optimizer).__name__
    if type(optimizer) not in SUPPORTED:
        raise ValueError(f"optimizer {kind}: only Adam's and SGD's updates can be unrolled "
                         "(a Langevin update draws noise)")
    for group in optimizer.param_groups:
        for key in ("amsgrad", "maximize", "nesterov", "decoupled_weight_decay"):
            if group.get(key):
                raise ValueError(f"optimizer {kind} with {key}=true cannot be unrolled")
        if group.get("dampening", 0):
            raise ValueError(f"optimizer {kind} with dampening cannot be unrolled")


def _sqrt(v: Tensor) -> Tensor:
    """√v with gradient 0 where v = 0 (both branches of ``where`` are differentiated)."""
    positive = v > 0
    return torch.where(positive, torch.where(positive, v, 1.0).sqrt(), 0.0)


class Functional:
    """One live optimizer's rule and a copy of its state for the parameters ``named``."""

    def __init__(self, optimizer: torch.optim.Optimizer,
                 named: Mapping[str, nn.Parameter]) -> None:
        check(optimizer)
        self.adam = isinstance(optimizer, torch.optim.Adam)
        group_of = {id(p): g for g in optimizer.param_groups for p in g["params"]}
        missing = [n for n, p in named.items() if id(p) not in group_of]
        if missing:
            raise ValueError(f"parameter {missing[0]} is not one of the optimizer's")
        self.groups = {n: group_of[id(p)] for n, p in named.items()}
        self.state = {n: dict(optimizer.state.get(p, {})) for n, p in named.items()}

    def step(self, params: Mapping[str, Tensor], grads: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """The parameters after one update with ``grads``; the state advances."""
        return {n: self._one(n, p, grads[n]) for n, p in params.items()}

    def _one(self, name: str, p: Tensor, g: Tensor) -> Tensor:
        group, state = self.groups[name], self.state[name]
        if group["weight_decay"]:
            g = g + group["weight_decay"] * p
        if self.adam:
            beta1, beta2 = group["betas"]
            m = beta1 * state.get("exp_avg", torch.zeros_like(p)) + (1 - beta1) * g
            v = beta2 * state.get("exp_avg_sq", torch.zeros_like(p)) + (1 - beta2) * g * g
            t = float(state.get("step", 0)) + 1
            state.update(exp_avg=m, exp_avg_sq=v, step=t)
            denom = _sqrt(v) / (1 - beta2**t) ** 0.5 + group["eps"]
            return p - group["lr"] / (1 - beta1**t) * m / denom
        if group["momentum"]:
            buf = state.get("momentum_buffer")
            g = g if buf is None else group["momentum"] * buf + g
            state["momentum_buffer"] = g
        return p - group["lr"] * g
