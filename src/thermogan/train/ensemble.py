"""Stacked members: the networks and optimizers of S runs as one vectorised computation (the
fast engine of the training step, ``train/members.py``).

Each parameter and buffer of G, D and G's moving average is stacked along a leading member
axis, and each member's own tensor becomes a view of its slice, so a member's networks always
hold its current weights and batch-norm statistics (its players, G terms, callbacks and
checkpoints read them without a copy). G and D run once for all members: MLPs as batched layers
(``train/batched.py``), other networks under ``vmap`` of ``functional_call``, with the
members' buffers batched too, so that each member's batch norm normalises with its own batch
and updates its own running statistics, and with each member's labels for class-conditional
networks, under the members' ``train.amp`` autocast as a single run's calls. A spectrally
normalised layer takes each member's W / σ(W), its power iteration stepped per member outside
the stacked call (``train/spectral.py``), as often as a single run's calls of D step it. With
``train.compile`` the vmapped call is compiled (``torch.compile``), as the members' networks are.

Members may differ by method: temperings, players and G terms act member by member
(``train/members.py``), and the optimizers are per *group*, a contiguous run of members that
agree in optimizer type, hyperparameters, learning-rate schedule and Langevin temperature. A
group's optimizer is an ordinary one (Adam with its lr and betas, SGD, SGLD) over the group's
slices of the stacked parameters: views of one leaf, whose gradient the backward fills for all
members at once and each group reads its slice of (no copy, no concatenation). Adam's, SGD's
and SGLD's updates are elementwise, so one optimizer over a group's slices is one per member,
given what SGLD (docs/langevin.md) takes per member: its noise, from the member's own "optim.d"
(or "optim.g") stream in its single run's order (``SGLD.generator`` as a sequence of
generators), and, with covariance or ccadl noise, the gradient variance of the member's own
batch. Per-example variances come from the D step's one backward as a single run's
(``train/dvariance.py``): D's Linear and Embedding layers keep their inputs and, through a zero
"tap" added to their outputs, their outputs' gradients, and ``Recorder``'s formula runs vmapped
over the members (``_Taps``); for other Ds, ``torch.func``'s per-example gradients vmapped over
the members (``_PerExample``); micro-batch variances from k stacked backward passes, one per
micro-batch (``_MicroBatches``). Each member's moving average of G moves with its own decay and
restarts at its own levels. Batched products sum in another order than a single run's: a
member follows its single run up to floating-point rounding.

``sync()`` writes the groups' optimizer state (moments, SGLD's averaged variance) into the
members' own, so each is checkpointed and resumed as an ordinary trainer; before G terms that
read D's optimizer (the unrolled term), the step writes D's. What stacking does
not do (``unsupported``) runs member by member (``members.Looped``).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, vmap
from torch.nn.utils import parametrize

from thermogan.optim.langevin import Langevin
from thermogan.optim.sgld import SGLD
from thermogan.optim.variance import Recorder, chunks, per_example_variance_of
from thermogan.train import batched
from thermogan.train.ema import warmed
from thermogan.train.precision import AMP
from thermogan.train.spectral import Spectral, normalised

if TYPE_CHECKING:
    from thermogan.train.trainer import Trainer

#: Optimizers whose update is elementwise (SGLD's given each member's noise stream and gradient
#: variance): one over stacked parameters is one per member.
ELEMENTWISE = (torch.optim.Adam, torch.optim.SGD, SGLD)
SIDES = ("g", "d")


def unsupported(trainer: Trainer) -> str | None:
    """Why ``trainer`` cannot be a member of a stacked computation (None when it can)."""
    reasons = {
        **{f"optimizer {type(opt).__name__} (the stack steps Adam, SGD and SGLD, whose "
           "updates it knows to be elementwise)": not isinstance(opt, ELEMENTWISE)
           for opt in (trainer.d_opt, trainer.g_opt)},
        "optimizers with several parameter groups": any(
            len(opt.param_groups) > 1 for opt in (trainer.g_opt, trainer.d_opt)),
        "parametrisations other than spectral norm (the stack computes each member's "
        "parametrised weights itself, and knows spectral norm's)": any(
            parametrize.is_parametrized(m) and not normalised(m)
            for net in (trainer.G, trainer.D) for m in net.modules()),
        "synchronised batch norm (torchrun on CUDA: its statistics are not per member)": any(
            isinstance(m, nn.SyncBatchNorm) for net in (trainer.G, trainer.D)
            for m in net.modules()),
    }
    found = [name for name, present in reasons.items() if present]
    return f"stacked members do not support {', '.join(found)}" if found else None


def _architecture(net: nn.Module) -> list[tuple[Any, ...]]:
    """What a stacked call of ``net`` assumes of every member's network: each module's type and
    settings, and each parameter's and buffer's name, shape and dtype."""
    return [(name, type(module).__name__, module.extra_repr(), module.training)
            for name, module in net.named_modules()] + [
        (name, t.shape, t.dtype) for name, t in (*net.named_parameters(), *net.named_buffers())]


def not_stacked(members: Sequence[Trainer]) -> str | None:
    """Why ``members`` cannot share one stacked computation (None when they can): a member
    that stacking does not support, or members whose G or D differ in architecture or
    precision, or whose SGLD Ds estimate their variance in different ways, or of which some
    average G and others do not (the step itself checks the loss, the batch size and the D
    steps)."""
    if len(members) < 2:
        return "one member"
    for m in members:
        if (reason := unsupported(m)) is not None:
            return reason
    first = members[0]
    if any(m.autocast.amp != first.autocast.amp for m in members):
        return "members differ in precision (train.amp)"
    kinds = {m.d_variance.estimator for m in members if m.d_variance is not None}
    if len(kinds) > 1:
        return "members' SGLD D's estimate their gradient variance in different ways"
    if len({m.G_ema is None for m in members}) > 1:  # the stack averages all of G or none
        return "members differ in whether G has a moving average (train.ema)"
    for net in ("G", "D"):
        if any(_architecture(getattr(m, net)) != _architecture(getattr(first, net))
               for m in members):
            return f"members' {net} differ in architecture"
    return None


def _share(tensors: Sequence[dict[str, Tensor]], grad: bool) -> dict[str, Tensor]:
    """Each of the members' named tensors stacked into one tensor (S, ...), each member's own
    made a view of its slice (they share the storage); ``grad``: leaves that take gradients."""
    stacked = {}
    for name in tensors[0]:
        stacked[name] = torch.stack([own[name].detach() for own in tensors]).requires_grad_(grad)
        for s, own in enumerate(tensors):
            own[name].data = stacked[name].detach()[s]
    return stacked


def _compiled(net: nn.Module) -> bool:
    """Whether ``net`` was compiled in place (``nn.Module.compile``, ``train.compile``)."""
    return getattr(net, "_compiled_call_impl", None) is not None


class _Net:
    """One network's parameters and buffers stacked over the members, and its vectorised call."""

    def __init__(self, nets: Sequence[nn.Module]) -> None:
        self.params = _share([dict(net.named_parameters()) for net in nets], grad=True)
        self.buffers = _share([dict(net.named_buffers()) for net in nets], grad=False)
        self.skeleton = copy.deepcopy(nets[0]).to("meta")
        self.spectral = Spectral(self.skeleton)  # the skeleton takes normalised weights
        plain = self.buffers.keys() - self.spectral.buffers
        self.layers = None if plain else batched.plan(self.skeleton)

        def call(p: dict[str, Tensor], b: dict[str, Tensor], *inputs: Tensor) -> Tensor:
            return functional_call(self.skeleton, (p, b), inputs)

        self.call: Callable[..., Tensor] = vmap(call)
        if any(_compiled(net) for net in nets):  # train.compile: so is the stacked call
            self.call = torch.compile(self.call)

    def runs_batched(self, x: Tensor, y: Tensor | None) -> bool:
        """Whether the members run on x (S, B, ...) as batched layers (an MLP on vectors)."""
        return self.layers is not None and x.dim() == 3 and y is None

    def __call__(self, x: Tensor, y: Tensor | None = None) -> Tensor:
        """The members' outputs (S, B, ...) for their inputs x (S, B, ...) and labels y (S, B)."""
        params, buffers = self.spectral(self.params, self.buffers)
        if self.runs_batched(x, y):
            return batched.forward(self.layers, params, x)
        return self.call(params, buffers, *((x,) if y is None else (x, y)))


def _per_member(key: str, value: Any, p: Tensor) -> bool:
    """Whether an optimizer state entry of parameter ``p`` holds a value per element (stacked
    over the members), not a count common to them all (Adam's step, SGLD's step and count)."""
    return key != "step" and isinstance(value, Tensor) and value.shape == p.shape


def _common(value: Any) -> Any:
    """A copy of a state entry common to the members."""
    return value.clone() if isinstance(value, Tensor) else value


def _optimizer(m: Trainer, side: str) -> torch.optim.Optimizer:
    return m.g_opt if side == "g" else m.d_opt


def _net(m: Trainer, side: str) -> nn.Module:
    return m.G if side == "g" else m.D


def _same_optimizer(m: Trainer, side: str) -> tuple[Any, ...]:
    """What members of one optimizer group share: the optimizer's type and hyperparameters,
    the learning-rate schedule and the Langevin temperature's level."""
    i = SIDES.index(side)
    return type(_optimizer(m, side)), m.hparams[i], m.lr_schedule, m.temperatures.get(side)


class _Group:
    """One optimizer over members [start, stop)'s slices of a network's stacked parameters:
    members that agree in ``_same_optimizer``, in a row."""

    def __init__(self, net: _Net, members: Sequence[Trainer], side: str, start: int,
                 stop: int) -> None:
        self.start, self.stop, self.net, self.side = start, stop, net, side
        self.members = list(members[start:stop])
        self.leader = _optimizer(self.members[0], side)  # its levels set this group's
        whole = stop - start == len(members)
        self.views = {name: p if whole else p.detach()[start:stop]
                      for name, p in net.params.items()}
        hparams = {k: v for k, v in self.leader.param_groups[0].items() if k != "params"}
        self.opt = type(self.leader)(list(self.views.values()), **hparams)
        if isinstance(self.opt, Langevin):
            self.opt.generator = [m.rngs[f"optim.{side}"] for m in self.members]
        for name, view in self.views.items():
            params = [dict(_net(m, side).named_parameters())[name] for m in self.members]
            states = [_optimizer(m, side).state.get(p, {}) for m, p in zip(self.members, params)]
            if states[0]:
                self.opt.state[view] = {key: torch.stack([s[key] for s in states])
                                        if _per_member(key, value, params[0]) else _common(value)
                                        for key, value in states[0].items()}

    def step(self) -> None:
        """One step at the learning rate (and Langevin temperature) the members' levels set,
        on the group's slices of the stacked gradients."""
        own = self.leader.param_groups[0]
        self.opt.param_groups[0].update({key: own[key] for key in ("lr", "temperature")
                                         if key in own})
        for name, view in self.views.items():
            whole = self.net.params[name]
            if view is not whole:
                view.grad = None if whole.grad is None else whole.grad[self.start:self.stop]
        self.opt.step()

    def set_variance(self, variance: dict[str, Tensor], first: int) -> None:
        """The gradient variance ``{name: V (members, ...)}`` of members ``first`` on: this
        group's slices."""
        if isinstance(self.opt, Langevin) and self.opt.needs_variance:
            rows = slice(self.start - first, self.stop - first)
            self.opt.set_variance({view: variance[name][rows]
                                   for name, view in self.views.items()})

    def sync(self) -> None:
        """Write the optimizer's state into each member's own."""
        for s, m in enumerate(self.members):
            own = _optimizer(m, self.side)
            for (_, p), view in zip(_net(m, self.side).named_parameters(), self.views.values()):
                state = self.opt.state.get(view)
                if state:
                    own.state[p] = {key: value[s].clone() if _per_member(key, value, view)
                                    else _common(value) for key, value in state.items()}


def _groups(net: _Net, members: Sequence[Trainer], side: str) -> list[_Group]:
    """The optimizer groups of one side: each longest row of members that agree."""
    keys = [_same_optimizer(m, side) for m in members]
    starts = [s for s in range(len(members)) if s == 0 or keys[s] != keys[s - 1]]
    return [_Group(net, members, side, a, b) for a, b in zip(starts, [*starts[1:], len(members)])]


class _Average:
    """The members' moving averages of G (``AveragedModel``'s EMA over parameters and buffers,
    with its warm-up, ``train/ema.py``), stacked: each moves towards its member's G by its own
    warmed decay, and one whose average restarts (a new temperature level: its count is 0)
    copies G."""

    def __init__(self, members: Sequence[Trainer]) -> None:
        self.members = list(members)
        modules = [m.G_ema.module for m in self.members]
        self.tensors = {**_share([dict(n.named_parameters()) for n in modules], grad=False),
                        **_share([dict(n.named_buffers()) for n in modules], grad=False)}

    @torch.no_grad()
    def update(self, G: _Net) -> None:
        counts = [int(m.G_ema.n_averaged) for m in self.members]
        decays = [0.0 if n == 0 else warmed(m.ema_decay, n) for m, n in zip(self.members, counts)]
        weights = [1 - d for d in decays]  # 1: a copy (lerp's weight 1 gives its end exactly)
        for name, average in self.tensors.items():
            current = G.params[name] if name in G.params else G.buffers[name]
            if not average.is_floating_point():  # batch norm's count of batches: averaged and
                for s, (d, w) in enumerate(zip(decays, weights)):  # rounded down, as torch's
                    average[s].copy_(average[s] * d + current[s] * w)
            elif len(set(weights)) == 1:
                average.lerp_(current.detach(), weights[0])
            else:
                shape = (-1, *[1] * (average.dim() - 1))
                average.lerp_(current.detach(), torch.tensor(
                    weights, dtype=average.dtype, device=average.device).view(shape))
        for m in self.members:
            m.G_ema.n_averaged += 1


#: Per layer of D, its calls' tensors (inputs, or taps) in the order of the calls.
_Calls = dict[nn.Module, list[Tensor]]


class _Taps:
    """Every member's per-example gradient variance in its D step, for an SGLD D with covariance
    or ccadl noise: ``DVariance``'s one-backward path (``train/dvariance.py``) for all members at
    once. Each Linear and Embedding layer's call keeps its input and adds a zero *tap*
    (S, B, ..., out) to its output (a forward hook on the skeleton's layer under vmap; the same
    function called by the batched layers of an MLP), so that after the D step's backward the
    tap's gradient is that output's; ``Recorder.variance_of``, vmapped over the members, turns
    them into V."""

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
        self.shapes: dict[tuple[torch.Size, bool], dict[nn.Module, list[torch.Size]]] = {}
        self.call = vmap(self._one)

    def _tap(self, layer: nn.Module, args: tuple[Tensor, ...], out: Tensor) -> Tensor | None:
        if self.taps is None:
            return None
        seen = self.inputs.setdefault(layer, [])
        seen.append(args[0])
        return out + self.taps[layer][len(seen) - 1]

    def _record(self, taps: _Calls, run: Callable[[], Tensor]) -> tuple[Tensor, _Calls]:
        """``run()``'s output, and the inputs its layers saw, with ``taps`` added."""
        self.taps, self.inputs = taps, {}
        try:
            return run(), self.inputs
        finally:
            self.taps = None

    def _one(self, params: dict[str, Tensor], buffers: dict[str, Tensor], taps: _Calls,
             *inputs: Tensor) -> tuple[Tensor, _Calls]:
        """One member's call, under vmap: the skeleton's forward hooks tap its layers."""
        return self._record(taps, lambda: functional_call(self.D.skeleton, (params, buffers),
                                                          inputs))

    def _shapes(self, inputs: tuple[Tensor, ...]) -> dict[nn.Module, list[torch.Size]]:
        """Each layer's output shape in each of its calls on one member's inputs: a dry run on
        the meta device, once per input shape."""
        key = (inputs[0].shape, len(inputs) > 1)
        if key not in self.shapes:
            found: dict[nn.Module, list[torch.Size]] = {}
            hooks = [layer.register_forward_hook(
                lambda module, _, out: found.setdefault(module, []).append(out.shape))
                for layer in self.layers]
            try:
                self.D.skeleton(*(torch.empty(t.shape[1:], dtype=t.dtype, device="meta")
                                  for t in inputs))
            finally:
                for hook in hooks:
                    hook.remove()
            self.shapes[key] = found
        return self.shapes[key]

    def __call__(self, x: Tensor, y: Tensor | None) -> Tensor:
        """The members' D outputs (S, B, ...) for x (S, B, ...) and labels y, keeping what V
        needs."""
        inputs = (x,) if y is None else (x, y)
        dtype = next(iter(self.D.params.values())).dtype
        taps = {layer: [torch.zeros(len(x), *shape, dtype=dtype, device=x.device,
                                    requires_grad=True) for shape in shapes]
                for layer, shapes in self._shapes(inputs).items()}
        if self.D.runs_batched(x, y):  # batched layers call the tap themselves
            out, seen = self._record(taps, lambda: batched.forward(
                self.D.layers, self.D.params, x, hook=self._tap))
        else:
            out, seen = self.call(self.D.params, self.D.buffers, taps, *inputs)
        self.records.append((seen, taps))
        self.batch = x.shape[1]
        return out

    def take(self, rows: slice) -> dict[str, Tensor]:
        """After the D step's backward: ``{parameter name: V (members, ...)}`` over the pairs
        (real_i, fake_i) of each member's batch, for the members ``rows`` (those that ask)."""
        inputs = [[x[rows] for seen, _ in self.records for x in seen.get(layer, [])]
                  for layer in self.layers]
        grads = [[t.grad[rows] for _, taps in self.records for t in taps.get(layer, [])]
                 for layer in self.layers]
        self.records = []
        # D's loss is the mean over B pairs: scale its gradients; its gradient is their mean
        # unless a gradient penalty adds to it
        means = {} if self.penalised else {n: p.grad[rows] for n, p in self.D.params.items()}
        b = self.batch
        return vmap(lambda i, g, m: self.recorder.variance_of(i, g, b, b, m))(inputs, grads,
                                                                              means)


class _MicroBatches:
    """Every member's gradient variance from k micro-batch means (``microbatch_variance``,
    ``optim/variance.py``): k stacked forward and backward passes of D, micro-batch j of every
    member's pairs (real_i, fake_i) at once, one call of D each as in a single run, V = m ·
    var(means) per member."""

    def __init__(self, D: _Net, loss: Any, k: int) -> None:
        self.D, self.loss, self.k = D, loss, k

    def take(self, rows: slice, real: Tensor, fake: Tensor, real_y: Tensor | None,
             fake_y: Tensor | None) -> dict[str, Tensor]:
        """``{parameter name: V (members, ...)}`` of the members ``rows``."""
        batch = real.shape[1]
        if batch % self.k:
            raise ValueError(f"k={self.k}: must divide the batch size {batch}")
        m = batch // self.k
        names, params = list(self.D.params), list(self.D.params.values())
        means: list[tuple[Tensor, ...]] = []
        for j in range(self.k):
            part = slice(j * m, (j + 1) * m)
            pairs = _pairs(real[:, part], fake[:, part]).flatten(1, 2)  # (S, 2m, ...)
            labels = (None if real_y is None
                      else _pairs(real_y[:, part], fake_y[:, part]).flatten(1, 2))
            with torch.enable_grad():
                logits = self.D(pairs, labels).reshape(len(pairs), m, 2)
                terms = self.loss.real(logits[..., 0]) + self.loss.fake(logits[..., 1])
                means.append(torch.autograd.grad(terms.mean(1).sum(), params))  # each (S, ...)
        return {n: torch.stack([g[i][rows] for g in means]).var(0, correction=1) * m
                for i, n in enumerate(names)}


class _PerExample:
    """Every member's per-example gradient variance through ``torch.func``
    (``per_example_variance_of``, as ``DVariance`` takes it for a D whose layers the taps do not
    cover), vmapped over the members: each member's pairs (real_i, fake_i), its parameters and
    buffers."""

    def __init__(self, D: _Net, loss: Any, chunk: int | None) -> None:
        self.D, self.loss, self.chunk = D, loss, chunk

    def _pair_loss(self, logits: Tensor) -> Tensor:
        return self.loss.real(logits[:, 0]) + self.loss.fake(logits[:, 1])  # (B,)

    def _vectors(self, rows: slice, batch: int) -> list[dict[str, Tensor]]:
        """Spectral norm's u and v of the members ``rows`` for each chunk's call, as a single
        run's call of D takes a power-iteration step."""
        spectral, buffers = self.D.spectral, self.D.buffers
        vectors = {n: buffers[n] for n in spectral.buffers}
        out = []
        for _ in chunks(batch, self.chunk):
            vectors = spectral.iterate(self.D.params, vectors)
            out.append({n: v[rows] for n, v in vectors.items()})
        for n in spectral.buffers:
            buffers[n].copy_(vectors[n])
        return out

    def take(self, rows: slice, real: Tensor, fake: Tensor, real_y: Tensor | None,
             fake_y: Tensor | None) -> dict[str, Tensor]:
        """``{parameter name: V (members, ...)}`` of the members ``rows``."""
        params = {n: p.detach()[rows] for n, p in self.D.params.items()}
        buffers = {n: b[rows] for n, b in self.D.buffers.items()
                   if n not in self.D.spectral.buffers}
        inputs = [_pairs(real[rows], fake[rows])]  # (members, B, 2, ...)
        if real_y is not None:
            inputs.append(_pairs(real_y[rows], fake_y[rows]))  # (members, B, 2)

        def member(p: dict[str, Tensor], b: dict[str, Tensor], vectors: list[dict[str, Tensor]],
                   *x: Tensor) -> dict[str, Tensor]:
            each = iter(vectors)  # one chunk's u and v for each call

            def call(ps: dict[str, Tensor], pairs: Tensor, *labels: Tensor) -> Tensor:
                args = (pairs.flatten(0, 1), *(y.flatten() for y in labels))  # (2B, ...)
                weights = self.D.spectral.member_weights(ps, next(each))
                return functional_call(self.D.skeleton, (weights, b), args).reshape(len(pairs),
                                                                                    2)
            return per_example_variance_of(call, p, self._pair_loss, x, self.chunk, len(x))

        return vmap(member)(params, buffers, self._vectors(rows, real.shape[1]), *inputs)


def _pairs(real: Tensor, fake: Tensor) -> Tensor:
    """(S, B, 2, ...): each member's pairs (real_i, fake_i), the layout ``dvariance.PairD``
    takes (flattened over the last two axes: one call of D on them in a row)."""
    return torch.stack([real, fake], 2)


class Stacked:
    """The networks and optimizers of S members stacked (see the module docstring); the same
    interface as ``members.Looped``."""

    def __init__(self, members: Sequence[Trainer]) -> None:
        self.members = list(members)
        self.nets = {"g": _Net([m.G for m in members]), "d": _Net([m.D for m in members])}
        self.groups = {side: _groups(self.nets[side], self.members, side) for side in SIDES}
        self.asks = asks = [s for s, m in enumerate(self.members) if m.d_variance is not None]
        self.rows = slice(asks[0], asks[-1] + 1) if asks else slice(0)  # covers those that ask
        self.variance: _Taps | _MicroBatches | _PerExample | None = None
        if asks:  # for an SGLD D with covariance or ccadl noise, as its single run takes it
            first = self.members[asks[0]]
            how = first.d_variance.estimator
            if first.d_variance.recorder is not None:
                self.variance = _Taps(self.nets["d"], penalised=first.penalty is not None)
            elif how.kind == "microbatch":
                self.variance = _MicroBatches(self.nets["d"], first.loss, how.microbatches)
            else:
                self.variance = _PerExample(self.nets["d"], first.loss, how.chunk)
        self.recording_on = False
        self.ema = None if self.members[0].G_ema is None else _Average(self.members)
        self.replicas = self.members[0].replicas  # torchrun: the members' rows in each process

    def _at_precision(self, call: Callable[[], Tensor]) -> Tensor:
        """``call()``, under the members' ``train.amp`` (``train/precision.py``): inside
        bfloat16 autocast, its output in float32."""
        amp = self.members[0].autocast
        if amp.amp is None:
            return call()
        with torch.autocast(amp.device_type, dtype=AMP[amp.amp]):
            out = call()
        return out.float()

    def G(self, z: Tensor, y: Tensor | None) -> Tensor:
        return self._at_precision(lambda: self.nets["g"](z, y))

    def D(self, x: Tensor, y: Tensor | None, autocast: bool = True) -> Tensor:
        if self.recording_on and isinstance(self.variance, _Taps):  # taps keep what V needs
            return self._at_precision(lambda: self.variance(x, y))
        if not autocast:  # the gradient penalty's pass: at the networks' own precision
            return self.nets["d"](x, y)
        return self._at_precision(lambda: self.nets["d"](x, y))

    @contextmanager
    def recording(self) -> Iterator[None]:
        self.recording_on = True
        try:
            yield
        finally:
            self.recording_on = False

    def hand_variance(self, real: Tensor, fake: Tensor, real_y: Tensor | None,
                      fake_y: Tensor | None) -> None:
        if self.variance is None:
            return
        D = self.nets["d"]
        with D.spectral.kept(D.buffers, self.asks):  # only theirs call D in a single run
            if isinstance(self.variance, _Taps):
                variance = self.variance.take(self.rows)
            else:
                variance = self.variance.take(self.rows, real, fake, real_y, fake_y)
        self.replicas.average(variance.values())  # over the whole batch's pairs
        for group in self.groups["d"]:
            group.set_variance(variance, self.rows.start)

    def g_params(self) -> list[Tensor]:
        return list(self.nets["g"].params.values())

    def zero_grad(self, side: str) -> None:
        for p in self.nets[side].params.values():
            p.grad = None
        for group in self.groups[side]:
            group.opt.zero_grad(set_to_none=True)

    def step(self, side: str) -> None:
        # torchrun: the whole batch's gradients (the members' own optimizers, which average
        # theirs, do not step here)
        self.replicas.average(p.grad for p in self.nets[side].params.values())
        for group in self.groups[side]:
            group.step()

    def update_ema(self) -> None:
        if self.ema is not None:
            self.ema.update(self.nets["g"])

    def describe(self, s: int) -> dict[str, float]:
        """Member s's injected noise (Langevin optimizers)."""
        return {f"{side}_{k}": v for side, groups in self.groups.items() for group in groups
                if group.start <= s < group.stop and isinstance(group.opt, Langevin)
                for k, v in group.opt.noise_level(s - group.start).items()}

    def sync(self, sides: Sequence[str] = SIDES) -> None:
        """Write the groups' optimizer state (of G and D, or of ``sides``) into the members'
        own."""
        for side in sides:
            for group in self.groups[side]:
                group.sync()
