"""Per-example gradient variance ``V`` for :class:`thermogan.optim.sgld.SGLD` (docs/langevin.md).

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

from collections.abc import Callable, Iterable, Sequence

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
    params = {k: p.detach() for k, p in model.named_parameters() if p.requires_grad}
    buffers = dict(model.named_buffers())
    return per_example_variance_of(
        lambda ps, *x: functional_call(model, (ps, buffers), x), params, loss_fn, inputs, chunk,
        model_inputs)


def chunks(batch: int, chunk: int | None) -> list[slice]:
    """The slices of a batch that ``per_example_variance_of`` takes one call each."""
    step = chunk or batch
    return [slice(start, start + step) for start in range(0, batch, step)]


def per_example_variance_of(call: Callable[..., Tensor], params: dict[str, Tensor],
                            loss_fn: LossFn, inputs: Tensor | Sequence[Tensor],
                            chunk: int | None = None,
                            model_inputs: int = 1) -> dict[str, Tensor]:
    """:func:`per_example_variance` of a model given as ``call(params, *model_inputs)``: tensor
    math only, so ``vmap`` maps it over stacked members' parameters (``train/ensemble.py``)."""
    inputs = _as_tuple(inputs)
    batch = inputs[0].shape[0]
    if batch < 2:
        raise ValueError(f"batch={batch}: the variance needs at least 2 examples")
    if chunk is not None and chunk < 1:
        raise ValueError(f"chunk={chunk!r}: must be >= 1 (or None: the whole batch)")

    def one_loss(ps: dict[str, Tensor], *example: Tensor) -> Tensor:
        batch1 = tuple(e.unsqueeze(0) for e in example)  # a batch of one
        return loss_fn(call(ps, *batch1[:model_inputs]), *batch1[model_inputs:]).sum()

    per_example = vmap(grad(one_loss), in_dims=(None, *([0] * len(inputs))),
                       randomness="different")
    total = {k: torch.zeros_like(p) for k, p in params.items()}
    total_sq = {k: torch.zeros_like(p) for k, p in params.items()}
    # Shifted sums (shift: the first example's gradient) keep the one-pass variance accurate.
    shift: dict[str, Tensor] | None = None
    for part in chunks(batch, chunk):
        grads = per_example(params, *(x[part] for x in inputs))  # {k: (b, *shape)}
        if shift is None:
            shift = {k: g[0].detach().clone() for k, g in grads.items()}
        for k, g in grads.items():
            d = g.detach() - shift[k]
            total[k] = total[k] + d.sum(0)
            total_sq[k] = total_sq[k] + d.square().sum(0)
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


#: Layers whose per-example gradients come from their input and output gradient alone.
RECORDABLE = (nn.Linear, nn.Embedding)


def recordable(model: nn.Module) -> bool:
    """Whether every trained parameter of ``model`` sits in an ``nn.Linear`` or ``nn.Embedding``
    layer (the one-backward fast path of :class:`Recorder` applies)."""
    covered = {id(p) for m in model.modules() if isinstance(m, RECORDABLE)
               for p in m.parameters(recurse=False)}
    return all(id(p) in covered for p in model.parameters() if p.requires_grad)


def _second_moment(g: Sequence[Tensor], a: Sequence[Tensor]) -> Tensor:
    """Σ_b G_b² for G_b = Σ_r g_r[b] a_r[b]ᵀ (rows r of example b: ``g[r]`` (B, out), ``a[r]``
    (B, in)) without forming the B matrices G_b:
    Σ_b G_b² = Σ_{r ≤ s} w_rs (g_r ∘ g_s)ᵀ (a_r ∘ a_s) (w = 1 on the diagonal, 2 off it), one
    (out × B)(B × in) product per pair (r, s), accumulated (BackPACK's ``SumGradSquared``, for
    examples of several rows)."""
    pairs = [(r, s) for r in range(len(g)) for s in range(r, len(g))]
    return _sum_of_products((g[r] * g[s], a[r] * a[s], 1.0 if r == s else 2.0)
                            for r, s in pairs)


def _sum_of_products(terms: Iterable[tuple[Tensor, Tensor, float]]) -> Tensor:
    """Σ w·xᵀy over the terms (x, y, w), one product each, accumulated (no concatenation; a
    generator of terms makes each factor only when its product is taken)."""
    rest = iter(terms)
    x, y, w = next(rest)
    total = (x.T @ y) * w
    for x, y, w in rest:
        total = total.addmm(x.T, y, alpha=w)
    return total


def _unbiased(second: Tensor, mean: Tensor, batch: int) -> Tensor:
    """The unbiased variance from the sum of squares and the mean of B values."""
    return ((second - batch * mean.square()) / (batch - 1)).clamp_min(0)


class Recorder:
    """The inputs and output gradients of a model's Linear and Embedding layers over one forward
    and backward pass, and the per-example gradient variance they give (one backward, no
    per-example copies).

    Example i is row block i of every call: with B examples, a call of k·B rows gives each
    example k consecutive rows, and successive calls add theirs (D's real and generated batches
    are two calls; example i is the pair of their rows i). Usage::

        with recorder:                   # forward hooks on the layers while inside
            out = model(x)
        loss = loss_fn(out)              # mean over the batch of per-example losses
        loss.backward()                  # or: recorder.output_grads(losses.sum())
        V = recorder.variance(batch, scale=batch)   # {parameter name: V}

    ``scale`` multiplies the output gradients to make them per-example ones (B for a batch mean).
    """

    def __init__(self, model: nn.Module) -> None:
        if not recordable(model):
            raise ValueError("every trained parameter must sit in an nn.Linear or nn.Embedding "
                             "layer for the one-backward variance")
        self.layers = [(name, m) for name, m in model.named_modules()
                       if isinstance(m, RECORDABLE)]
        self.calls: dict[nn.Module, list[tuple[Tensor, Tensor]]] = {}
        self._hooks: list[torch.utils.hooks.RemovableHandle] = []

    def _record(self, module: nn.Module, args: tuple[Tensor, ...], out: Tensor) -> None:
        if out.requires_grad:
            out.retain_grad()
        self.calls.setdefault(module, []).append((args[0].detach(), out))

    def __enter__(self) -> Recorder:
        self.calls = {}
        self._hooks = [m.register_forward_hook(self._record) for _, m in self.layers]
        return self

    def __exit__(self, *exc: object) -> None:
        for hook in self._hooks:
            hook.remove()
        self._hooks = []

    def outputs(self) -> list[Tensor]:
        """The recorded outputs, layer by layer (the order :meth:`variance` reads ``grads`` in)."""
        return [out for _, m in self.layers for _, out in self.calls.get(m, [])]

    def variance(self, batch: int, scale: float = 1.0, grads: Sequence[Tensor] | None = None,
                 means: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """``{parameter name: V}`` from the recorded pass; ``grads``: the outputs' gradients in
        the order of :meth:`outputs` (default: their ``.grad`` after a backward); ``means``: the
        mean per-example gradients when already known (D's own gradient), else computed."""
        found = iter(grads) if grads is not None else None
        inputs, out_grads = [], []
        for _, module in self.layers:
            calls = self.calls.get(module, [])
            inputs.append([x for x, _ in calls])
            out_grads.append([next(found) if found is not None else out.grad for _, out in calls])
        self.calls = {}  # frees the recorded graph's outputs
        return self.variance_of(inputs, out_grads, batch, scale, means)

    def variance_of(self, inputs: Sequence[Sequence[Tensor]],
                    grads: Sequence[Sequence[Tensor | None]], batch: int, scale: float = 1.0,
                    means: dict[str, Tensor] | None = None) -> dict[str, Tensor]:
        """:meth:`variance` from records taken elsewhere: for each layer (in the order of
        ``layers``), the inputs of its calls and their outputs' gradients. Tensor math only, so
        ``vmap`` maps it over a leading axis (a seed ensemble's members, ``train/ensemble.py``)."""
        if batch < 2:
            raise ValueError(f"batch={batch}: the variance needs at least 2 examples")
        known = means or {}
        result: dict[str, Tensor] = {}
        for (name, module), xs, outs in zip(self.layers, inputs, grads, strict=True):
            if not xs or any(g is None for g in outs):
                raise RuntimeError(f"layer {name or 'model'}: no recorded forward and backward "
                                   "pass to take the variance from")
            g = [r for o in outs for r in o.reshape(batch, -1, o.shape[-1]).unbind(1)]
            a = [r for x in xs for r in self._rows(module, x, batch).unbind(1)]
            prefix = f"{name}." if name else ""
            # (out, in), or for an embedding (dim, classes); output gradients times scale
            weight = _second_moment(g, a).mul_(scale * scale)
            mean = known.get(f"{prefix}weight")
            if mean is None:  # Σ_r g_rᵀ a_r, the batch's summed gradient
                mean = _sum_of_products((g_r, a_r, 1.0) for g_r, a_r in zip(g, a)) * (
                    scale / batch)
            elif isinstance(module, nn.Embedding):
                mean = mean.T
            v = _unbiased(weight, mean, batch)
            result[f"{prefix}weight"] = v.T if isinstance(module, nn.Embedding) else v
            if getattr(module, "bias", None) is not None:
                bias = sum(g[1:], g[0]) * scale  # (B, out): the per-example bias gradients
                mean = known.get(f"{prefix}bias")
                result[f"{prefix}bias"] = _unbiased(bias.square().sum(0), bias.mean(0)
                                                    if mean is None else mean, batch)
        return result

    @staticmethod
    def _rows(module: nn.Module, x: Tensor, batch: int) -> Tensor:
        """A call's input as (B, rows, features): one-hot classes for an embedding."""
        if isinstance(module, nn.Embedding):
            x = torch.nn.functional.one_hot(x, module.num_embeddings).to(module.weight.dtype)
        return x.reshape(batch, -1, x.shape[-1])


def linear_variance(model: nn.Module, loss_fn: LossFn, inputs: Tensor | Sequence[Tensor],
                    model_inputs: int = 1) -> dict[str, Tensor]:
    """The same unbiased σ² as :func:`per_example_variance` for a model whose parameters all sit
    in ``nn.Linear`` or ``nn.Embedding`` layers, from one forward and one backward pass
    (:class:`Recorder`; the parameters' ``.grad`` are left untouched). A layer's rows of one
    example (a pair flattened into two rows, a sequence's positions) sum into its gradient."""
    check_no_batchnorm(model)
    inputs = _as_tuple(inputs)
    recorder = Recorder(model)
    with torch.enable_grad():
        with recorder:
            out = model(*inputs[:model_inputs])
        losses = loss_fn(out, *inputs[model_inputs:])  # (B,)
        grads = torch.autograd.grad(losses.sum(), recorder.outputs())
    return recorder.variance(inputs[0].shape[0], grads=grads)
