"""Stacked members: the networks and optimizers of S runs of one config as one vectorised
computation (the fast engine of the training step, ``train/members.py``).

Each parameter of G, D and G's moving average is stacked along a leading member axis, and each
member's own parameter becomes a view of its slice, so a member's networks always hold its
current weights (its players, G terms, callbacks and checkpoints read them without a copy). G
and D run once for all members: MLPs as batched layers (``train/batched.py``), other networks
under ``vmap`` of ``functional_call``. Adam's, SGD's and SGLD's updates are elementwise, so one
optimizer over the stacked parameters is S independent ones, given what SGLD (docs/langevin.md)
takes per member: its noise, from the member's own "optim.d" (or "optim.g") stream in its single
run's order (``SGLD.generator`` as a sequence of generators), and, with covariance or ccadl
noise, the per-example gradient variance of the member's own batch, from the D step's one
backward as a single run's (``train/dvariance.py``): D's linear layers keep their inputs and,
through a zero "tap" added to their outputs, their outputs' gradients, and ``Recorder``'s
formula runs vmapped over the members (``_Variance``). Batched products sum in another order
than a single run's: a member follows its single run up to floating-point rounding.

``sync()`` writes the stacked optimizers' state (moments, SGLD's averaged variance) into the
members' own, so each is checkpointed and resumed as an ordinary trainer. What stacking does not
support yet (``unsupported``: labels, batch norm, an SGLD variance from micro-batches or
torch.func, replicas, AMP, compile) runs member by member (``members.Looped``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap

from thermogan.optim.langevin import Langevin
from thermogan.optim.sgld import SGLD
from thermogan.optim.variance import Recorder
from thermogan.train import batched
from thermogan.train.ema import warmed

if TYPE_CHECKING:
    from thermogan.train.trainer import Trainer

#: Optimizers whose update is elementwise (SGLD's given each member's noise stream and gradient
#: variance): one over stacked parameters is one per member.
ELEMENTWISE = (torch.optim.Adam, torch.optim.SGD, SGLD)


def unsupported(trainer: Trainer) -> str | None:
    """Why ``trainer`` cannot be a member of a stacked computation (None when it can)."""
    reasons = {
        "class-conditional networks": trainer.num_classes is not None,
        f"optimizer {type(trainer.d_opt).__name__}": not isinstance(trainer.d_opt, ELEMENTWISE),
        f"optimizer {type(trainer.g_opt).__name__}": not isinstance(trainer.g_opt, ELEMENTWISE),
        "optimizers with several parameter groups": any(
            len(opt.param_groups) > 1 for opt in (trainer.g_opt, trainer.d_opt)),
        "networks with buffers (batch norm)": any(
            True for net in (trainer.G, trainer.D) for _ in net.buffers()),
        "an SGLD D's gradient variance from micro-batch means or torch.func (variance: "
        "microbatch, or a D with layers other than nn.Linear)":
            trainer.d_variance is not None
            and getattr(trainer.d_variance, "recorder", None) is None,
        "data-parallel replicas (torchrun)": trainer.replicas.size > 1,
        "mixed precision (train.amp)": trainer.autocast.amp is not None,
        "compiled networks (train.compile)": any(
            getattr(net, "_compiled_call_impl", None) is not None
            for net in (trainer.G, trainer.D)),
    }
    found = [name for name, present in reasons.items() if present]
    return f"ensembles do not support {', '.join(found)} yet" if found else None


def not_stacked(members: Sequence[Trainer]) -> str | None:
    """Why ``members`` cannot share one stacked computation (None when they can): a member
    that stacking does not support, or members that differ in what the stack holds once for
    all (architecture, optimizer and its hyperparameters, learning-rate schedule, EMA decay)."""
    if len(members) < 2:
        return "one member"
    for m in members:
        if (reason := unsupported(m)) is not None:
            return reason
    first = members[0]

    def shape(m: Trainer) -> tuple[Any, ...]:
        return ([(n, p.shape) for net in (m.G, m.D) for n, p in net.named_parameters()],
                type(m.g_opt), type(m.d_opt), m.hparams, m.lr_schedule, m.temperatures,
                m.ema_decay)
    return None if all(shape(m) == shape(first) for m in members) else (
        "members differ in their networks, optimizers or schedules")


def _share(nets: Sequence[nn.Module]) -> dict[str, Tensor]:
    """Each parameter of ``nets`` stacked over the members into one leaf tensor (S, ...), each
    member's own parameter made a view of its slice (they share the storage)."""
    named = [dict(net.named_parameters()) for net in nets]
    stacked = {}
    for name in named[0]:
        stacked[name] = torch.stack([own[name].detach() for own in named]).requires_grad_(True)
        for s, own in enumerate(named):
            own[name].data = stacked[name].detach()[s]
    return stacked


class _Net:
    """One network's parameters stacked over the members, and its vectorised call."""

    def __init__(self, nets: Sequence[nn.Module]) -> None:
        self.params = _share(nets)
        self.skeleton = copy.deepcopy(nets[0]).to("meta")
        self.layers = batched.plan(self.skeleton)

        def call(p: dict[str, Tensor], x: Tensor) -> Tensor:
            return functional_call(self.skeleton, p, (x,))

        self.call: Callable[[dict[str, Tensor], Tensor], Tensor] = vmap(call)

    def runs_batched(self, x: Tensor) -> bool:
        """Whether the members run on x (S, B, ...) as batched layers (an MLP on vectors)."""
        return self.layers is not None and x.dim() == 3

    def __call__(self, x: Tensor) -> Tensor:
        """The members' outputs (S, B, ...) for their inputs x (S, B, ...)."""
        if self.runs_batched(x):
            return batched.forward(self.layers, self.params, x)
        return self.call(self.params, x)


def _per_member(key: str, value: Any, p: Tensor) -> bool:
    """Whether an optimizer state entry of parameter ``p`` holds a value per element (stacked
    over the members), not a count common to them all (Adam's step, SGLD's step and count)."""
    return key != "step" and isinstance(value, Tensor) and value.shape == p.shape


def _common(value: Any) -> Any:
    """A copy of a state entry common to the members."""
    return value.clone() if isinstance(value, Tensor) else value


def _optimizer(net: _Net, opts: Sequence[torch.optim.Optimizer], nets: Sequence[nn.Module],
               streams: list[torch.Generator]) -> torch.optim.Optimizer:
    """One optimizer of the members' kind over the stacked parameters, with their state; a
    Langevin one draws each member's noise from the member's stream."""
    hparams = {k: v for k, v in opts[0].param_groups[0].items() if k != "params"}
    opt = type(opts[0])(list(net.params.values()), **hparams)
    if isinstance(opt, Langevin):
        opt.generator = streams
    for name, stacked in net.params.items():
        params = [dict(n.named_parameters())[name] for n in nets]
        states = [o.state.get(p, {}) for o, p in zip(opts, params)]
        if states[0]:
            opt.state[stacked] = {key: torch.stack([s[key] for s in states])
                                  if _per_member(key, value, params[0]) else _common(value)
                                  for key, value in states[0].items()}
    return opt


#: Per layer of D, its calls' tensors (inputs, or taps) in the order of the calls.
_Calls = dict[nn.Module, list[Tensor]]


class _Variance:
    """Every member's per-example gradient variance in its D step, for an SGLD D with covariance
    or ccadl noise: ``DVariance``'s one-backward path (``train/dvariance.py``) for all members at
    once. Each Linear layer's call keeps its input and adds a zero *tap* (S, B, out) to its
    output (a forward hook on the skeleton's layer under vmap; the same function called by the
    batched layers of an MLP), so that after the D step's backward the tap's gradient is
    that output's; ``Recorder.variance_of``, vmapped over the members, turns them into V."""

    def __init__(self, D: _Net, penalised: bool) -> None:
        self.D, self.penalised = D, penalised
        self.recorder = Recorder(D.skeleton)
        self.layers = [layer for _, layer in self.recorder.layers]
        for layer in self.layers:
            layer.register_forward_hook(self._tap)
        self.taps: _Calls | None = None  # of the call in progress
        self.inputs: _Calls = {}
        self.records: list[tuple[_Calls, _Calls]] = []  # (inputs, taps) of this D step's calls
        self.batch = 0
        self.shapes: dict[torch.Size, dict[nn.Module, list[torch.Size]]] = {}
        self.call = vmap(self._one)

    def _tap(self, layer: nn.Module, args: tuple[Tensor, ...], out: Tensor) -> Tensor | None:
        if self.taps is None:
            return None
        seen = self.inputs.setdefault(layer, [])
        seen.append(args[0])
        return out + self.taps[layer][len(seen) - 1]

    def _record(self, taps: _Calls, run: Callable[[], Tensor]) -> tuple[Tensor, _Calls]:
        """``run()``'s output, and the inputs its Linear layers saw, with ``taps`` added."""
        self.taps, self.inputs = taps, {}
        try:
            return run(), self.inputs
        finally:
            self.taps = None

    def _one(self, params: dict[str, Tensor], x: Tensor, taps: _Calls) -> tuple[Tensor, _Calls]:
        """One member's call, under vmap: the skeleton's forward hooks tap its layers."""
        return self._record(taps, lambda: functional_call(self.D.skeleton, params, (x,)))

    def _shapes(self, x: Tensor) -> dict[nn.Module, list[torch.Size]]:
        """Each layer's output shape in each of its calls on one member's x (S, B, ...): a dry
        run on the meta device, once per input shape."""
        if x.shape not in self.shapes:
            found: dict[nn.Module, list[torch.Size]] = {}
            hooks = [layer.register_forward_hook(
                lambda module, _, out: found.setdefault(module, []).append(out.shape))
                for layer in self.layers]
            try:
                self.D.skeleton(torch.empty(x.shape[1:], dtype=x.dtype, device="meta"))
            finally:
                for hook in hooks:
                    hook.remove()
            self.shapes[x.shape] = found
        return self.shapes[x.shape]

    def __call__(self, x: Tensor) -> Tensor:
        """The members' D outputs (S, B, ...) for x (S, B, ...), keeping what V needs."""
        taps = {layer: [torch.zeros(len(x), *shape, dtype=x.dtype, device=x.device,
                                    requires_grad=True) for shape in shapes]
                for layer, shapes in self._shapes(x).items()}
        if self.D.runs_batched(x):  # batched layers call the tap themselves
            out, inputs = self._record(taps, lambda: batched.forward(
                self.D.layers, self.D.params, x, hook=self._tap))
        else:
            out, inputs = self.call(self.D.params, x, taps)
        self.records.append((inputs, taps))
        self.batch = x.shape[1]
        return out

    def take(self) -> dict[Tensor, Tensor]:
        """After the D step's backward: ``{stacked parameter: V (S, ...)}`` over the pairs
        (real_i, fake_i) of each member's batch, for ``SGLD.set_variance``."""
        inputs = [[x for seen, _ in self.records for x in seen.get(layer, [])]
                  for layer in self.layers]
        grads = [[t.grad for _, taps in self.records for t in taps.get(layer, [])]
                 for layer in self.layers]
        self.records = []
        # D's loss is the mean over B pairs: scale its gradients; its gradient is their mean
        # unless a gradient penalty adds to it
        means = {} if self.penalised else {n: p.grad for n, p in self.D.params.items()}
        b = self.batch
        variance = vmap(lambda i, g, m: self.recorder.variance_of(i, g, b, b, m))(
            inputs, grads, means)
        return {self.D.params[name]: v for name, v in variance.items()}


class Stacked:
    """The networks and optimizers of S members stacked (see the module docstring); the same
    interface as ``members.Looped``."""

    def __init__(self, members: Sequence[Trainer]) -> None:
        self.members = list(members)
        first = self.members[0]
        self.nets = {"g": _Net([m.G for m in members]), "d": _Net([m.D for m in members])}
        self.opts = {side: _optimizer(self.nets[side], [getattr(m, f"{side}_opt") for m in members],
                                      [m.G if side == "g" else m.D for m in members],
                                      [m.rngs[f"optim.{side}"] for m in members])
                     for side in ("g", "d")}
        self.variance = (None if first.d_variance is None
                         else _Variance(self.nets["d"], penalised=bool(first.gp_weight)))
        self.recording_on = False
        self.ema = None if first.G_ema is None else _share([m.G_ema.module for m in members])

    def G(self, z: Tensor, y: Tensor | None) -> Tensor:
        return self.nets["g"](z)  # y is None: labels are not stacked (``unsupported``)

    def D(self, x: Tensor, y: Tensor | None, autocast: bool = True) -> Tensor:
        if self.recording_on and self.variance is not None:  # taps keep what V needs
            return self.variance(x)
        return self.nets["d"](x)

    @contextmanager
    def recording(self) -> Iterator[None]:
        self.recording_on = True
        try:
            yield
        finally:
            self.recording_on = False

    def hand_variance(self, *_: Tensor | None) -> None:
        if self.variance is not None:
            self.opts["d"].set_variance(self.variance.take())

    def g_params(self) -> list[Tensor]:
        return list(self.nets["g"].params.values())

    def zero_grad(self, side: str) -> None:
        self.opts[side].zero_grad(set_to_none=True)

    def step(self, side: str) -> None:
        """One step, at the learning rate (and Langevin temperature) the members' levels set
        for this step."""
        own = getattr(self.members[0], f"{side}_opt").param_groups[0]
        group = self.opts[side].param_groups[0]
        group.update({key: own[key] for key in ("lr", "temperature") if key in own})
        self.opts[side].step()

    def update_ema(self) -> None:
        """The members' moving averages of G (``AveragedModel``'s EMA, stacked, with its warm-up,
        ``train/ema.py``): a member whose average restarts (a new temperature level) copies G's
        weights."""
        counts = [int(m.G_ema.n_averaged) for m in self.members]  # 0: a restart
        with torch.no_grad():
            for name, avg in self.ema.items():
                current = self.nets["g"].params[name]
                pairs = ([(avg, current, counts[0])] if len(set(counts)) == 1  # all alike
                         else [(avg[s], current[s], n) for s, n in enumerate(counts)])
                for average, weights, n in pairs:
                    if n == 0:
                        average.copy_(weights)
                    else:
                        average.lerp_(weights, 1 - warmed(self.members[0].ema_decay, n))
        for m in self.members:
            m.G_ema.n_averaged += 1

    def describe(self, s: int) -> dict[str, float]:
        """Member s's injected noise (Langevin optimizers)."""
        return {f"{side}_{k}": v for side, opt in self.opts.items()
                if isinstance(opt, Langevin) for k, v in opt.noise_level(s).items()}

    def sync(self) -> None:
        """Write the stacked optimizers' state into the members' own."""
        for side, opt in self.opts.items():
            for s, m in enumerate(self.members):
                own = getattr(m, f"{side}_opt")
                net = m.G if side == "g" else m.D
                for (_, p), stacked in zip(net.named_parameters(), self.nets[side].params.values()):
                    state = opt.state.get(stacked)
                    if state:
                        own.state[p] = {key: value[s].clone() if _per_member(key, value, stacked)
                                        else _common(value) for key, value in state.items()}
