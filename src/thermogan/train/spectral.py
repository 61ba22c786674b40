"""Spectral normalisation of stacked members (Miyato et al. 2018, "Spectral Normalization for
Generative Adversarial Networks"): each member's weight W used as W / σ(W), σ ≈ uᵀ W v from one
step of power iteration per call in training mode (u ← W v / ‖W v‖, v ← Wᵀ u / ‖Wᵀ u‖), each
member with its own u and v.

A single run's layer (``torch.nn.utils.parametrizations.spectral_norm``, ``nets/spectral.py``)
writes the new u and v into its buffers with ``out=``, which ``vmap`` cannot batch. Here the
stacked network's skeleton has its spectral parametrisations removed (it takes the normalised
weight as the layer's plain ``weight``), and each call first takes the members' power-iteration
step, ``vmap``-ped over the member axis outside the network, writes the new u and v into the
stacked buffers (each member's own buffers are views of them, so checkpoints hold them), then
passes W / σ(W), differentiable in the raw weight, as the parameter of the call. The same
per-member map gives the normalised weights inside ``torch.func``'s per-example gradients
(``ensemble._PerExample``), with u and v as the single run's call there sees them.

The step is the single run's arithmetic (``mv``, ``normalize``, ``vdot``), vmapped, in float32
outside autocast, as a single run's CPU autocast leaves those ops (CUDA's would take ``mv`` in
bf16); a layer in eval mode takes no step.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial

import torch
from torch import Tensor, nn
from torch.func import vmap
from torch.nn import functional as F
from torch.nn.utils import parametrize
from torch.nn.utils.parametrizations import _SpectralNorm

Named = dict[str, Tensor]


def _matrix(weight: Tensor, dim: int) -> Tensor:
    """A weight as the matrix whose largest singular value is σ (``dim`` first)."""
    return weight.movedim(dim, 0).flatten(1)


@torch.no_grad()
def _iterate(weight: Tensor, u: Tensor, v: Tensor, dim: int, eps: float,
             steps: int) -> tuple[Tensor, Tensor]:
    """``steps`` steps of power iteration of one member's weight from (u, v)."""
    w = _matrix(weight, dim)
    for _ in range(steps):
        u = F.normalize(torch.mv(w, v), dim=0, eps=eps)
        v = F.normalize(torch.mv(w.H, u), dim=0, eps=eps)
    return u, v


def _normalised(weight: Tensor, u: Tensor, v: Tensor, dim: int) -> Tensor:
    """One member's W / σ(W), σ = uᵀ W v (u and v held fixed)."""
    return weight / torch.vdot(u, torch.mv(_matrix(weight, dim), v))


def normalised(module: nn.Module) -> bool:
    """Whether ``module``'s parametrisations are spectral norm's alone."""
    return parametrize.is_parametrized(module) and all(
        len(chain) == 1 and isinstance(chain[0], _SpectralNorm)
        for chain in module.parametrizations.values())


def _strip(module: nn.Module) -> None:
    """``module`` (a skeleton's copy) made a plain layer whose tensors are the parametrised
    ones' originals: its own class back (``remove_parametrizations`` would edit the class the
    parametrisation made, which the members' own layers share)."""
    originals = {tensor: chain.original for tensor, chain in module.parametrizations.items()}
    module.__class__ = module.__class__.__bases__[0]
    del module.parametrizations
    for tensor, original in originals.items():
        module.register_parameter(tensor, original)


@dataclass(frozen=True)
class _Layer:
    """One spectrally normalised tensor of the network: its names and its iteration's
    settings."""

    prefix: str  # the module's name and a dot ("" for the network itself)
    tensor: str  # the normalised tensor's name in its module ("weight")
    dim: int
    eps: float
    steps: int
    training: bool

    @property
    def weight(self) -> str:
        return f"{self.prefix}{self.tensor}"

    @property
    def original(self) -> str:
        return f"{self.prefix}parametrizations.{self.tensor}.original"

    @property
    def u(self) -> str:
        return f"{self.prefix}parametrizations.{self.tensor}.0._u"

    @property
    def v(self) -> str:
        return f"{self.prefix}parametrizations.{self.tensor}.0._v"


class Spectral:
    """The spectrally normalised layers of a network's stacked members (see the module
    docstring). Built on the network's skeleton, whose spectral parametrisations it removes
    (in place)."""

    def __init__(self, skeleton: nn.Module) -> None:
        self.layers: list[_Layer] = []
        for name, module in list(skeleton.named_modules()):
            if normalised(module):
                self.layers += [_Layer(f"{name}." if name else "", tensor, norm.dim, norm.eps,
                                       norm.n_power_iterations, norm.training)
                                for tensor, (norm,) in module.parametrizations.items()]
                _strip(module)
        self.buffers = {name for layer in self.layers for name in (layer.u, layer.v)}
        self.originals = {layer.original for layer in self.layers}

    def iterate(self, params: Named, vectors: Named) -> Named:
        """The stacked u and v after each training layer's power-iteration step (new tensors;
        eval layers' as given), from ``vectors`` (``{u or v name: (S, n)}``)."""
        new = dict(vectors)
        for layer in self.layers:
            if layer.training:
                step = partial(_iterate, dim=layer.dim, eps=layer.eps, steps=layer.steps)
                new[layer.u], new[layer.v] = vmap(step)(params[layer.original].detach(),
                                                        vectors[layer.u], vectors[layer.v])
        return new

    def member_weights(self, params: Named, vectors: Named) -> Named:
        """One member's parameters as the skeleton takes them: each original weight replaced
        by its normalised one, with ``vectors`` that member's u and v."""
        out = {name: p for name, p in params.items() if name not in self.originals}
        for layer in self.layers:
            out[layer.weight] = _normalised(params[layer.original], vectors[layer.u],
                                            vectors[layer.v], layer.dim)
        return out

    @contextmanager
    def kept(self, buffers: Named, members: list[int]) -> Iterator[None]:
        """Inside, only ``members`` keep the steps their calls take: the others' u and v are
        put back on leaving."""
        size = len(buffers[next(iter(self.buffers))]) if self.buffers else 0
        others = [s for s in range(size) if s not in members]
        before = {name: buffers[name][others].clone() for name in self.buffers} if others else {}
        yield
        for name, vectors in before.items():
            buffers[name][others] = vectors

    def __call__(self, params: Named, buffers: Named) -> tuple[Named, Named]:
        """The stacked parameters and buffers the skeleton takes for one call: the members'
        power-iteration step taken (their u and v written into ``buffers``), each normalised
        weight W / σ(W) (differentiable in ``params``), the other buffers as they are."""
        if not self.layers:
            return params, buffers
        with torch.autocast(next(iter(params.values())).device.type, enabled=False):
            vectors = self.iterate(params, {name: buffers[name] for name in self.buffers})
            for name in self.buffers:
                if vectors[name] is buffers[name]:  # no step: a copy the next step leaves alone
                    vectors[name] = buffers[name].clone()
                else:
                    buffers[name].copy_(vectors[name])
            weights = vmap(self.member_weights)(params, vectors)
        return weights, {name: b for name, b in buffers.items() if name not in self.buffers}
