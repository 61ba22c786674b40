"""Batched layers: S stacked members of one MLP run as one batched matrix product per layer.

``vmap(functional_call)`` runs any network for stacked members, but it turns each member's
``addmm`` into a ``bmm`` followed by a separate bias add, and each activation into a new tensor.
On a CPU those elementwise passes over (S, B, width) activations cost as much as a fifth of an
ensemble step (they no longer fit in cache at S = 32). A network that is a sequence of
``nn.Linear`` layers and elementwise activations (the MLPs of ``nets/mlp.py``) runs here instead
as one ``baddbmm`` per layer, the bias inside the product, with ReLU, LeakyReLU (slope ≥ 0) and
Tanh applied in place: their gradients read only their outputs, and a product's own gradient
does not read its output. ``benchmarks/ensemble.py`` measures the difference (docs/scale.md).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor, nn
from torch.nn import functional as F

from thermogan.nets.mlp import ACTIVATIONS

#: Activations applied in place to a fresh product (autograd saves their output, not input).
_IN_PLACE: dict[type[nn.Module], Callable[[Tensor, nn.Module], Tensor]] = {
    nn.ReLU: lambda x, _: torch.relu_(x),
    nn.Tanh: lambda x, _: torch.tanh_(x),
    nn.LeakyReLU: lambda x, m: (F.leaky_relu_(x, m.negative_slope) if m.negative_slope >= 0
                                else m(x)),
}

Plan = list[tuple[str, nn.Module]]


def plan(net: nn.Module) -> Plan | None:
    """``net``'s layers as (name, module) when it is a sequence of ``nn.Linear`` layers and the
    activations of ``nets/mlp.py``; None for any other network (it runs under vmap)."""
    allowed = (nn.Linear, *ACTIVATIONS.values())
    if not isinstance(net, nn.Sequential) or not all(isinstance(m, allowed) for m in net):
        return None
    return list(net.named_children())


#: ``hook(layer, (input,), output)``, as a forward hook: a replacement output, or None.
Hook = Callable[[nn.Module, tuple[Tensor, ...], Tensor], Tensor | None]


def forward(layers: Plan, params: dict[str, Tensor], x: Tensor,
            hook: Hook | None = None) -> Tensor:
    """The members' outputs (S, B, out) for their inputs x (S, B, in), ``params`` stacked over
    the members (``torch.func.stack_module_state``'s names). ``hook`` sees each Linear layer's
    stacked input and output, as a forward hook on the layer would."""
    for name, module in layers:
        if isinstance(module, nn.Linear):
            weight = params[f"{name}.weight"].transpose(1, 2)  # (S, in, out)
            bias = params.get(f"{name}.bias")
            out = torch.bmm(x, weight) if bias is None else torch.baddbmm(bias.unsqueeze(1), x,
                                                                           weight)
            replaced = None if hook is None else hook(module, (x,), out)
            x = out if replaced is None else replaced
        elif type(module) in _IN_PLACE:
            x = _IN_PLACE[type(module)](x, module)
        else:
            x = module(x)
    return x
