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


def linear_only(model: nn.Module) -> bool:
    """Whether every trained parameter of ``model`` sits in an ``nn.Linear`` layer (the fast path
    of :func:`linear_variance` applies)."""
    linear = {id(p) for m in model.modules() if isinstance(m, nn.Linear)
              for p in m.parameters(recurse=False)}
    return all(id(p) in linear for p in model.parameters() if p.requires_grad)


def _weight_variance(g: Tensor, a: Tensor) -> Tensor:
    """Unbiased variance over b of G_b = Σ_r g_br a_brᵀ without forming the B matrices G_b:
    Σ_b G_b² = Σ_{r,s} (g_r ∘ g_s)ᵀ (a_r ∘ a_s), one (out × B)(B × in) product per row pair."""
    batch, rows = g.shape[:2]
    second = torch.zeros(g.shape[2], a.shape[2], dtype=g.dtype, device=g.device)  # Σ_b G_b²
    for r in range(rows):
        for s in range(r, rows):
            weight = 1.0 if r == s else 2.0
            second += weight * (g[:, r] * g[:, s]).T @ (a[:, r] * a[:, s])  # (out, in)
    mean = g.flatten(0, 1).T @ a.flatten(0, 1) / batch  # (out, in): the mean gradient
    return ((second - batch * mean.square()) / (batch - 1)).clamp_min(0)


def linear_variance(model: nn.Module, loss_fn: LossFn, inputs: Tensor | Sequence[Tensor],
                    model_inputs: int = 1, group: int = 1) -> dict[str, Tensor]:
    """The same unbiased σ² as :func:`per_example_variance` for a model whose parameters all sit in
    ``nn.Linear`` layers, from one forward and one backward pass: each layer's per-example weight
    gradient is ``Σ_rows g aᵀ`` over the ``group`` consecutive rows of one example (``g`` the
    gradient at the layer's output, ``a`` its input), and the sum of their squares is formed
    from squared activations and gradients (BackPACK's ``SumGradSquared``) without ever holding B
    gradients. Rows beyond the first dimension (sequences) are not
    supported: inputs of the layers must be (rows, features)."""
    check_no_batchnorm(model)
    if not linear_only(model):
        raise ValueError("linear_variance: every parameter must sit in an nn.Linear layer")
    inputs = _as_tuple(inputs)
    batch = inputs[0].shape[0]
    if batch < 2:
        raise ValueError(f"batch={batch}: the variance needs at least 2 examples")
    seen: list[tuple[str, nn.Linear, Tensor, Tensor]] = []
    hooks = [m.register_forward_hook(lambda mod, a, out, name=name: seen.append(
        (name, mod, a[0], out))) for name, m in model.named_modules() if isinstance(m, nn.Linear)]
    try:
        with torch.enable_grad():
            losses = loss_fn(model(*inputs[:model_inputs]), *inputs[model_inputs:])  # (B,)
            outs = torch.autograd.grad(losses.sum(), [out for *_, out in seen])
    finally:
        for hook in hooks:
            hook.remove()
    result: dict[str, Tensor] = {}
    for (name, mod, a, _), g in zip(seen, outs):
        a = a.detach().reshape(batch, group, -1)  # (B, rows, in)
        g = g.reshape(batch, group, -1)  # (B, rows, out)
        prefix = f"{name}." if name else ""
        result[f"{prefix}weight"] = _weight_variance(g, a)
        if mod.bias is not None:
            result[f"{prefix}bias"] = g.sum(1).var(0, correction=1)  # (out,)
    return result
