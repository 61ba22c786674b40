"""Stochastic gradient Langevin dynamics with covariance-controlled noise (docs/langevin.md).

Welling & Teh (2011) SGLD, as the Langevin-stabilised GAN uses it for D (its eq. 10), with the
three noise modes of docs/langevin.md. torch minimises a batch-mean loss ``L``, so one step is::

    θ ← θ − ε (∇L + θ / prior_std²) + ξ,      ξ ~ N(0, Σ)

- ``isotropic``:  ``Σ = 2εT``;
- ``covariance``: ``Σ = 2εT · I_t`` (the paper's reading of its eq. 11);
- ``ccadl``:      ``Σ = max(0, 2εT − ε² I_t / B)`` (Shang, Zhu, Leimkuhler & Storkey 2015): a
  batch-mean gradient already carries noise of variance ``ε² V / B``, so inject only the rest.

``I_t`` is, per parameter element, the running mean (``average="running"``:
``I_t = I_{t−1} + (V_t − I_{t−1}) / t``) or the EMA (``average="ema"``:
``I_1 = V_1``, ``I_t = d I_{t−1} + (1 − d) V_t``) of ``V_t``, the diagonal variance of the
*per-example* gradients of the loss (an unbiased estimate of the data's per-example gradient
variance; see :mod:`thermogan.optim.variance`). The caller hands ``V_t`` in before each step::

    V = per_example_variance(D, loss_fn, (x, y))          # {name: (shape of the parameter)}
    opt.set_variance(by_parameter(D, V))                   # {parameter: V}; used by the next step
    opt.step()

``covariance`` and ``ccadl`` refuse a step without it; ``isotropic`` uses one if given (so that
``I_t`` can be logged) but does not need it.

Prior: the Gaussian prior term ``−∇ log P(θ) / N = θ / (σ_p² N)`` needs the data size N, which an
optimizer does not know; ``prior_std`` folds it in: ``prior_std = σ_p · sqrt(N)`` (so the term is
``θ / prior_std²``, i.e. weight decay ``1 / prior_std²``). ``None``: no prior.

Noise is drawn from ``generator`` (the trainer's seeded one; ``None``: torch's global RNG), one
``randn`` per parameter in parameter order, on the generator's device, so a resumed run is exact.
A seed ensemble (``train/ensemble.py``) stacks its members' parameters along dim 0 and passes a
sequence of generators, one per member: slice s of every parameter then gets the noise member s's
own run draws, from its own stream, in the same order;
``I_t`` and its count live in ``state`` so ``state_dict()`` round-trips.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Literal

import torch
from torch import Tensor

from thermogan.optim.estimators import PerExample, VarianceEstimator

NOISE_MODES = ("isotropic", "covariance", "ccadl")
AVERAGES = ("running", "ema")


def check_options(lr: float, temperature: float, noise: str, prior_std: float | None,
                  average: str, ema_decay: float, batch_size: int | None) -> None:
    """Raise ``ValueError("name=value: rule")`` for the first bad option."""
    if not lr > 0:
        raise ValueError(f"lr={lr!r}: must be > 0")
    if not temperature >= 0:
        raise ValueError(f"temperature={temperature!r}: must be >= 0")
    if noise not in NOISE_MODES:
        raise ValueError(f"noise={noise!r}: must be one of {', '.join(NOISE_MODES)}")
    if prior_std is not None and not prior_std > 0:
        raise ValueError(f"prior_std={prior_std!r}: must be > 0 (or null: no prior)")
    if average not in AVERAGES:
        raise ValueError(f"average={average!r}: must be one of {', '.join(AVERAGES)}")
    if not 0 < ema_decay < 1:
        raise ValueError(f"ema_decay={ema_decay!r}: must be in (0, 1)")
    if batch_size is not None and (isinstance(batch_size, bool) or int(batch_size) != batch_size
                                   or batch_size < 1):
        raise ValueError(f"batch_size={batch_size!r}: must be an integer >= 1")
    if noise == "ccadl" and batch_size is None:
        raise ValueError("batch_size=None: noise=ccadl needs the batch size B of the loss's "
                         "mean (Σ = 2εT − ε²·I_t/B)")


class SGLD(torch.optim.Optimizer):
    """Langevin optimizer (``optim.langevin.Langevin``); see the module docstring for the update
    and the variance API."""

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], lr: float,
                 temperature: float = 1.0,
                 noise: Literal["isotropic", "covariance", "ccadl"] = "isotropic",
                 prior_std: float | None = None, average: Literal["running", "ema"] = "running",
                 ema_decay: float = 0.99, batch_size: int | None = None,
                 generator: torch.Generator | Sequence[torch.Generator] | None = None,
                 variance: VarianceEstimator | None = None) -> None:
        check_options(lr, temperature, noise, prior_std, average, ema_decay, batch_size)
        defaults = dict(lr=lr, temperature=temperature, noise=noise, prior_std=prior_std,
                        average=average, ema_decay=ema_decay, batch_size=batch_size)
        super().__init__(params, defaults)
        for group in self.param_groups:  # per-group overrides are checked too
            check_options(*(group[k] for k in ("lr", "temperature", "noise", "prior_std",
                                                "average", "ema_decay", "batch_size")))
        self.generator = generator
        #: How the trainer estimates the gradient variance it hands in.
        self.variance = variance or PerExample()
        self._variance: dict[Tensor, Tensor] | None = None
        self._level: tuple[list[tuple[Tensor | float, Tensor]], list[Tensor]] | None = None

    @property
    def needs_variance(self) -> bool:
        """Whether a step needs the gradient variance (``covariance`` and ``ccadl`` noise)."""
        return any(group["noise"] != "isotropic" for group in self.param_groups)

    def set_variance(self, variance: Mapping[Tensor, Tensor]) -> None:
        """Hand in ``V_t`` for the next :meth:`step`: ``{parameter: per-example gradient variance
        (same shape)}``; consumed by that step. Build it with ``variance.by_parameter``."""
        known = {p for group in self.param_groups for p in group["params"]}
        out: dict[Tensor, Tensor] = {}
        for p, v in variance.items():
            if p not in known:
                raise ValueError("set_variance: a key is not a parameter of this optimizer")
            if v.shape != p.shape:
                raise ValueError(f"set_variance: variance of shape {tuple(v.shape)} for a "
                                 f"parameter of shape {tuple(p.shape)}")
            out[p] = v.detach()
        self._variance = out

    def noise_level(self, member: int | None = None) -> dict[str, float]:
        """The temperature in force, the last step's mean injected noise std and mean
        ``sqrt(I_t)`` over all elements, or
        over slice ``member`` of dim 0 of every parameter (one member of a seed ensemble's
        stacked parameters) (NaN before the first step; ``sqrt_variance`` NaN while no variance
        was handed in). Computed when asked (at log time), not at every step."""
        temperature = self.param_groups[0]["temperature"]
        if self._level is None:
            return {"noise_std": float("nan"), "sqrt_variance": float("nan"),
                    "temperature": temperature}
        stds, averages = self._level
        if member is not None:
            stds = [(std[member] if isinstance(std, Tensor) else std, p[member])
                    for std, p in stds]
            averages = [avg[member] for avg in averages]
        n_std = sum(p.numel() for _, p in stds)
        std_sum = sum(float(std.sum()) if isinstance(std, Tensor) else std * p.numel()
                      for std, p in stds)
        n_var = sum(avg.numel() for avg in averages)
        return {"noise_std": std_sum / max(n_std, 1),
                "sqrt_variance": (sum(float(avg.sqrt().sum()) for avg in averages) / n_var
                                  if n_var else float("nan")), "temperature": temperature}

    def _noise(self, p: Tensor) -> Tensor:
        g = self.generator
        if g is None:
            return torch.randn_like(p)
        if isinstance(g, torch.Generator):
            return torch.randn(p.shape, generator=g, device=g.device, dtype=p.dtype).to(p.device)
        return torch.stack([torch.randn(p.shape[1:], generator=gen, device=gen.device,
                                        dtype=p.dtype).to(p.device) for gen in g])

    @torch.no_grad()
    def step(self, closure: Callable[[], float] | None = None) -> float | None:  # type: ignore[override]
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        variance, self._variance = self._variance or {}, None
        for group in self.param_groups:  # refuse before touching any parameter
            if self.generator is not None and not isinstance(self.generator, torch.Generator):
                for p in group["params"]:
                    if p.dim() == 0 or len(p) != len(self.generator):
                        raise ValueError(
                            f"{len(self.generator)} generators (one per member) for a parameter "
                            f"of shape {tuple(p.shape)}: its dim 0 must be the members")
            if group["noise"] != "isotropic":
                for p in group["params"]:
                    if p.grad is not None and p not in variance:
                        raise RuntimeError(
                            f"SGLD(noise={group['noise']!r}) needs the per-example gradient "
                            "variance of every parameter each step: call "
                            "opt.set_variance(by_parameter(model, per_example_variance(...))) "
                            "before step() (thermogan.optim.variance)")
        stds: list[tuple[Tensor | float, Tensor]] = []  # for noise_level, when asked
        averages: list[Tensor] = []
        for group in self.param_groups:
            lr, temp, mode = group["lr"], group["temperature"], group["noise"]
            for p in group["params"]:
                if p.grad is None:
                    continue
                state = self.state[p]
                if not state:
                    state["step"] = 0
                    state["variance_count"] = 0
                    state["variance_avg"] = torch.zeros_like(p, memory_format=torch.preserve_format)
                state["step"] += 1
                avg = state["variance_avg"]  # ≥ 0: an average of variances
                v = variance.get(p)
                if v is not None:
                    state["variance_count"] += 1
                    v = v.to(device=avg.device, dtype=avg.dtype)
                    if group["average"] == "running" or state["variance_count"] == 1:
                        avg.add_(v - avg, alpha=1.0 / state["variance_count"])
                    else:
                        avg.mul_(group["ema_decay"]).add_(v, alpha=1.0 - group["ema_decay"])
                if state["variance_count"]:
                    averages.append(avg)
                d_p = p.grad
                if group["prior_std"] is not None:
                    d_p = d_p.add(p, alpha=1.0 / group["prior_std"] ** 2)
                p.add_(d_p, alpha=-lr)
                if mode == "isotropic":
                    std: Tensor | float = (2.0 * lr * temp) ** 0.5
                    p.add_(self._noise(p), alpha=std)
                else:
                    if mode == "covariance":
                        std = avg.mul(2.0 * lr * temp).sqrt_()
                    else:  # ccadl
                        std = avg.mul(-lr * lr / group["batch_size"]).add_(
                            2.0 * lr * temp).clamp_min_(0).sqrt_()
                    p.addcmul_(self._noise(p), std)
                stds.append((std, p))
        self._level = (stds, averages)
        return loss
