"""Per-example gradient variance ``V`` for :class:`thermogan.optim.sgld.SGLD` (METHODS.md §4).

``loss_fn(model(inputs[0]), *inputs[1:]) -> (B,)`` per-example losses: ``inputs`` is a tuple whose
first entry is the model's input and whose other entries (labels, targets, ...) are passed on to
``loss_fn``; every entry has the batch on dim 0.

Both estimators return ``{parameter name: V}`` with V of the parameter's shape: the diagonal,
**unbiased** (divisor B − 1, resp. k − 1) estimate of σ², the variance of one example's gradient
over the data. The mean-loss gradient of a batch of B examples then has noise of variance σ²/B,
which is what ``ccadl`` subtracts (``ε² I_t / B``). Pass the result through :func:`by_parameter`
to ``SGLD.set_variance``.

Per-example gradients need a model without BatchNorm (it mixes examples); dropout is drawn
independently per example (``randomness="different"``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

LossFn = Callable[..., Tensor]


def check_no_batchnorm(model: nn.Module) -> None:
    """Refuse a model with BatchNorm, whose per-example gradients are not defined."""
    for name, m in model.named_modules():
        if isinstance(m, nn.modules.batchnorm._BatchNorm):
            raise ValueError(f"model has BatchNorm ({name or 'the model'}: {type(m).__name__}): "
                             "per-example gradients need no norm, layer/group norm or spectral "
                             "norm in the discriminator")


def _as_tuple(inputs: Tensor | Sequence[Tensor]) -> tuple[Tensor, ...]:
    return (inputs,) if isinstance(inputs, Tensor) else tuple(inputs)


def per_example_variance(model: nn.Module, loss_fn: LossFn, inputs: Tensor | Sequence[Tensor],
                         chunk: int | None = None, model_inputs: int = 1) -> dict[str, Tensor]:
    """Unbiased diagonal variance over the batch of the per-example gradients of
    ``loss_fn``, by ``vmap(grad(...))`` over ``functional_call``; ``chunk`` examples at a time
    (``None``: all at once) bounds the memory of the materialised per-example gradients. The
    first ``model_inputs`` entries of ``inputs`` go to the model (a conditional D takes x and y),
    the rest to ``loss_fn``."""
    check_no_batchnorm(model)
    inputs = _as_tuple(inputs)
    batch = inputs[0].shape[0]
    if batch < 2:
        raise ValueError(f"batch={batch}: the variance needs at least 2 examples")
    if chunk is not None and chunk < 1:
        raise ValueError(f"chunk={chunk!r}: must be >= 1 (or None: the whole batch)")
    params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
    buffers = dict(model.named_buffers())

    def one_loss(ps: dict[str, Tensor], *example: Tensor) -> Tensor:
        batch1 = tuple(e.unsqueeze(0) for e in example)  # a batch of one
        out = functional_call(model, (ps, buffers), batch1[:model_inputs])
        return loss_fn(out, *batch1[model_inputs:]).sum()

    per_example = vmap(grad(one_loss), in_dims=(None, *([0] * len(inputs))),
                       randomness="different")
    step = chunk or batch
    total = {k: torch.zeros_like(p) for k, p in params.items()}
    total_sq = {k: torch.zeros_like(p) for k, p in params.items()}
    # Shifted sums (shift: the first example's gradient) keep the one-pass variance accurate.
    shift: dict[str, Tensor] | None = None
    for start in range(0, batch, step):
        grads = per_example(params, *(x[start:start + step] for x in inputs))  # {k: (b, *shape)}
        if shift is None:
            shift = {k: g[0].detach().clone() for k, g in grads.items()}
        for k, g in grads.items():
            d = g.detach() - shift[k]
            total[k] += d.sum(0)
            total_sq[k] += d.square().sum(0)
    return {k: ((total_sq[k] - total[k].square() / batch) / (batch - 1)).clamp_min(0)
            for k in params}


def microbatch_variance(model: nn.Module, loss_fn: LossFn, inputs: Tensor | Sequence[Tensor],
                        k: int, model_inputs: int = 1) -> dict[str, Tensor]:
    """Unbiased estimate of the same σ² from ``k`` micro-batch mean gradients: the batch is split
    into k micro-batches of m = B / k examples (B divisible by k), and
    ``V = m · var(means, divisor k − 1)``. k backward passes instead of B gradients in memory."""
    check_no_batchnorm(model)
    inputs = _as_tuple(inputs)
    batch = inputs[0].shape[0]
    if isinstance(k, bool) or not k >= 2:
        raise ValueError(f"k={k!r}: must be >= 2")
    if batch % k:
        raise ValueError(f"k={k}: must divide the batch size {batch}")
    m = batch // k
    names = [n for n, p in model.named_parameters() if p.requires_grad]
    params = [p for p in model.parameters() if p.requires_grad]
    means: list[list[Tensor]] = []
    for j in range(k):
        part = tuple(x[j * m:(j + 1) * m] for x in inputs)
        with torch.enable_grad():
            loss = loss_fn(model(*part[:model_inputs]), *part[model_inputs:]).mean()
            means.append([g.detach() for g in torch.autograd.grad(loss, params,
                                                                  allow_unused=True,
                                                                  materialize_grads=True)])
    return {n: torch.stack([g[i] for g in means]).var(0, correction=1) * m
            for i, n in enumerate(names)}


def by_parameter(model: nn.Module, variance: dict[str, Tensor]) -> dict[nn.Parameter, Tensor]:
    """``{name: V}`` as ``{parameter: V}``, the form ``SGLD.set_variance`` takes."""
    named = dict(model.named_parameters())
    return {named[n]: v for n, v in variance.items()}
