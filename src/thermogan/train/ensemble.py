"""Seed ensembles: S trainers of one config stepped as one vectorised computation.

An ``Ensemble`` takes S ``Trainer``s that differ only in their seed (built by the usual
``build_trainer``, so each has its own initial weights and random streams) and trains them
together: their parameters are stacked along a leading member axis
(``torch.func.stack_module_state``), the networks run once for all members (MLPs as batched
layers, ``train/batched.py``; other networks under ``vmap`` of ``functional_call``), and one
optimizer steps the stacked parameters. Adam's, SGD's and SGLD's
updates are elementwise, so one optimizer over stacked parameters is S independent optimizers,
given the two things SGLD (docs/langevin.md) takes per member: its noise, from the member's own
"optim.d" (or "optim.g") stream, one ``randn`` per parameter in parameter order as its single run
draws it (``SGLD.generator`` as a sequence of generators), and, with covariance or ccadl noise,
the variance of the per-example gradients of the member's own batch. That comes from the D step's
one backward pass, as a single run's does (``train/dvariance.py``): D's linear layers keep their
inputs and, through a zero "tap" added to their outputs, their outputs' gradients, and
``Recorder``'s formula runs vmapped over the members (``_Variance``). Each member draws its data
and latents from its own streams, in the order a single run draws them, so a member follows its
single run up to floating-point rounding (batched matrix products sum in another order).

``sync()`` writes the stacked state back into the member trainers (weights, optimizer state:
moments, SGLD's averaged variance; EMA): a member is then an ordinary trainer, checkpointed,
evaluated and resumed as one, and ``Ensemble(members)`` stacks them again, so an ensemble resumes
exactly from its members' checkpoints.

Supported now: unconditional runs; any temperings (each member applies its own, with its own
stream, so its level is its own); controllers, players (a lens, β'-GAN's coupling, a learned
score's denoiser) and G terms: after the D step each member's own D is brought up to date from
the stacked parameters, each member's controllers observe its own record, its players take their
step against its D with their own optimizers and streams, and its G terms are added to its G
loss on its slice of the generated batch, member by member (a loop of S small passes; the
players' and terms' modules stay the member's own and need no writing back); a gradient penalty;
Adam, SGD or SGLD (every noise mode; with covariance or ccadl noise, a D whose trained
parameters all sit in ``nn.Linear`` layers and whose variance comes from per-example gradients,
the default: micro-batch means, or torch.func's per-example gradients for other layers, are
passes of their own outside the D step's backward, not vectorised over members yet); a
learning-rate schedule and an EMA of G (restarted at each temperature level, as a single run's).
Refused with the reason: class-conditional networks, batch norm, data-parallel replicas, and
the image runs' mixed precision and compilation (the stacked calls would silently run without
them; every image network of the library has batch norm anyway).
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.func import functional_call, stack_module_state, vmap

from thermogan.data.batch import Batch
from thermogan.optim.sgld import SGLD
from thermogan.optim.variance import Recorder
from thermogan.step import DStep
from thermogan.train import batched
from thermogan.train.trainer import Trainer

#: Optimizers whose update is elementwise (SGLD's given each member's noise stream and gradient
#: variance): one over stacked parameters is one per member.
ELEMENTWISE = (torch.optim.Adam, torch.optim.SGD, SGLD)


def unsupported(trainer: Trainer) -> str | None:
    """Why ``trainer`` cannot be an ensemble member (None when it can)."""
    reasons = {
        "class-conditional networks": trainer.num_classes is not None,
        f"optimizer {type(trainer.d_opt).__name__}": not isinstance(trainer.d_opt, ELEMENTWISE),
        f"optimizer {type(trainer.g_opt).__name__}": not isinstance(trainer.g_opt, ELEMENTWISE),
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


class _Stacked:
    """One network's parameters stacked over the members, and its vectorised call."""

    def __init__(self, nets: Sequence[nn.Module]) -> None:
        params, _ = stack_module_state(list(nets))
        self.params = {name: p.detach().requires_grad_(True) for name, p in params.items()}
        self.skeleton = copy.deepcopy(nets[0]).to("meta")
        self.layers = batched.plan(self.skeleton)

        def call(p: dict[str, Tensor], x: Tensor) -> Tensor:
            return functional_call(self.skeleton, p, (x,))

        self.call: Callable[[dict[str, Tensor], Tensor], Tensor] = vmap(call)

    def runs_batched(self, x: Tensor) -> bool:
        """Whether the members run on x (S, B, ...) as batched layers (an MLP on vectors)."""
        return self.layers is not None and x.dim() == 3

    def __call__(self, x: Tensor) -> Tensor:
        """The members' outputs (S, B, ...) for their inputs x (S, B, ...): an MLP's as
        batched layers (``train/batched.py``), any other network's under vmap."""
        if self.runs_batched(x):
            return batched.forward(self.layers, self.params, x)
        return self.call(self.params, x)

    def write_back(self, nets: Sequence[nn.Module]) -> None:
        with torch.no_grad():
            for s, net in enumerate(nets):
                for name, p in net.named_parameters():
                    p.copy_(self.params[name][s])


def _per_member(key: str, value: Any, p: Tensor) -> bool:
    """Whether an optimizer state entry of parameter ``p`` holds a value per element (stacked
    over the members), not a count common to them all (Adam's step, SGLD's step and count)."""
    return key != "step" and isinstance(value, Tensor) and value.shape == p.shape


def _common(value: Any) -> Any:
    """A copy of a state entry common to the members."""
    return value.clone() if isinstance(value, Tensor) else value


#: Per layer of D, its calls' tensors (inputs, or taps) in the order of the calls.
_Calls = dict[nn.Module, list[Tensor]]


class _Variance:
    """Every member's per-example gradient variance in its D step, for an SGLD D with covariance
    or ccadl noise: ``DVariance``'s one-backward path (``train/dvariance.py``) for all members at
    once. Each Linear layer's call keeps its input and adds a zero *tap* (S, B, out) to its
    output (a forward hook on the skeleton's layer under vmap; the same function called by the
    batched layers of an MLP), so that after the D step's backward the tap's gradient is
    that output's; ``Recorder.variance_of``, vmapped over the members, turns them into V.
    Calls without taps (the gradient penalty's, G's step) pass through untouched."""

    def __init__(self, D: _Stacked, penalised: bool) -> None:
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


def _stacked_logs(logs: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    """The members' logs as one dict of (S,) tensors (the keys every member logged)."""
    return {key: torch.stack([out[key] for out in logs]) for key in logs[0]
            if all(key in out for out in logs)}


class Ensemble:
    """S member trainers of one config trained as one computation (see the module docstring)."""

    def __init__(self, members: Sequence[Trainer]) -> None:
        if not members:
            raise ValueError("an ensemble needs at least one member")
        for member in members:
            reason = unsupported(member)
            if reason:
                raise ValueError(reason)
        self.members = list(members)
        first = self.members[0]
        self.loss, self.batch_size, self.d_steps = first.loss, first.batch_size, first.d_steps
        self.gp_weight = first.gp_weight
        self.step = first.step
        if any(m.step != self.step for m in self.members):
            raise ValueError("the members are at different steps")
        self.G, self.D = _Stacked([m.G for m in members]), _Stacked([m.D for m in members])
        self.g_opt = self._optimizer(self.G, [m.g_opt for m in members], [m.G for m in members],
                                     first.hparams[0], [m.rngs["optim.g"] for m in members])
        self.d_opt = self._optimizer(self.D, [m.d_opt for m in members], [m.D for m in members],
                                     first.hparams[1], [m.rngs["optim.d"] for m in members])
        self.d_readers = any(m.players or m.g_terms for m in self.members)
        self.d_variance = (None if first.d_variance is None
                           else _Variance(self.D, penalised=bool(self.gp_weight)))
        self.ema: dict[str, Tensor] | None = None
        if first.G_ema is not None:
            self.ema = {name: torch.stack([dict(m.G_ema.module.named_parameters())[name].detach()
                                           for m in members]).clone()
                        for name in self.G.params}
            self.ema_count = int(first.G_ema.n_averaged)
            self.ema_decay = float(first.ema_decay)

    @staticmethod
    def _optimizer(stacked: _Stacked, opts: Sequence[torch.optim.Optimizer],
                   nets: Sequence[nn.Module], hparams: list[dict[str, Any]],
                   streams: list[torch.Generator]) -> torch.optim.Optimizer:
        """One optimizer of the members' kind over the stacked parameters, with their state;
        a Langevin one draws each member's noise from the member's stream."""
        opt = type(opts[0])(list(stacked.params.values()), **hparams[0])
        if hasattr(opt, "generator"):
            opt.generator = streams
        names = [name for name, _ in nets[0].named_parameters()]
        for name, stacked_p in zip(names, stacked.params.values()):
            params = [dict(net.named_parameters())[name] for net in nets]
            states = [o.state.get(p, {}) for o, p in zip(opts, params)]
            if states[0]:
                opt.state[stacked_p] = {
                    key: torch.stack([s[key] for s in states])
                    if _per_member(key, value, params[0]) else _common(value)
                    for key, value in states[0].items()}
        return opt

    # ----------------------------------------------------------------------------------------
    def _real(self) -> Tensor:
        return torch.stack([m.data.sample(self.batch_size, m.rngs["data"], m.device).x
                            for m in self.members])  # (S, B, ...)

    def _see(self, x: Tensor, side: str) -> Tensor:
        """What each member's D sees of its slice of x (S, B, ...): its own temperings."""
        if not len(self.members[0].temperings):
            return x
        return torch.stack([m.see(x_s, side) for m, x_s in zip(self.members, x)])

    def _latents(self) -> Tensor:
        return torch.stack([m.sample_z(self.batch_size) for m in self.members])  # (S, B, z)

    def _set_levels(self) -> None:
        """Every member's temperings to their level at this step, and the learning rates."""
        for member in self.members:
            for tempering in member.temperings:
                tempering.set_step(self.step)
        schedule = self.members[0].lr_schedule
        if schedule is None:
            return
        factor = schedule(self.step)
        for opt, groups in zip((self.g_opt, self.d_opt), self.members[0].hparams):
            for group, hp in zip(opt.param_groups, groups):
                group["lr"] = hp["lr"] * factor

    def d_step(self, keep_graph: bool = True) -> tuple[dict[str, Tensor], list[DStep]]:
        """One D step of every member; returns what a single run logs of it, each (S,): the D
        loss, the mean logits on each side and E[sign D(real)] (``DStep.summary``), and each
        member's record of the step (for its controllers and players).

        ``keep_graph``: learned temperings keep their forward pass for their player's step."""
        raw = self._real()  # (S, B, ...)
        with torch.set_grad_enabled(keep_graph):
            real = self._see(raw, "real").detach()
        with torch.no_grad():
            raw_fake = self.G(self._latents())
            fake = self._see(raw_fake, "fake")
        # an SGLD D's variance needs its layers' inputs and output gradients: the taps keep them
        discriminate = self.D if self.d_variance is None else self.d_variance
        real_logits = discriminate(real).flatten(1)  # (S, B)
        fake_logits = discriminate(fake).flatten(1)
        losses = self.loss.real(real_logits).mean(1) + self.loss.fake(fake_logits).mean(1)
        if self.gp_weight:
            losses = losses + self.gp_weight * self._penalty(real, fake)
        self.d_opt.zero_grad(set_to_none=True)
        losses.sum().backward()  # member s's parameters get member s's gradient only
        if self.d_variance is not None:  # an SGLD D's noise follows each member's variance
            self.d_opt.set_variance(self.d_variance.take())
        self.d_opt.step()
        real_logits, fake_logits, losses = real_logits.detach(), fake_logits.detach(), \
            losses.detach()
        records = [DStep(Batch(raw[s]), Batch(raw_fake[s]), real[s], fake[s], real_logits[s],
                         fake_logits[s], losses[s]) for s in range(len(self.members))]
        return {"d_loss": losses, "d_real": real_logits.mean(1), "d_fake": fake_logits.mean(1),
                "d_real_sign": torch.sign(real_logits).mean(1)}, records

    def _play(self, records: list[DStep]) -> dict[str, Tensor]:
        """Each member's controllers observe its record, and its players take their step
        against its own D (fixed), with their own optimizers and streams, as in its single run;
        returns the players' logs, each (S,)."""
        logs: list[dict[str, Tensor]] = []
        for member, d in zip(self.members, records):
            for controller in member.controllers:
                controller.observe(d)
            out: dict[str, Tensor] = {}
            for name, player in member.players.items():
                out.update(player.update(d, member.D, self.loss, member.rngs[f"player.{name}"]))
            logs.append(out)
        return _stacked_logs(logs)

    def _penalty(self, real: Tensor, fake: Tensor) -> Tensor:
        """Each member's WGAN-GP penalty (S,) (``objectives/penalties.py``), its interpolation
        weights drawn from the member's own penalty stream."""
        shape = (self.batch_size,) + (1,) * (real.dim() - 2)
        eps = torch.stack([torch.rand(shape, generator=m.rngs["penalty"], device=real.device,
                                      dtype=real.dtype) for m in self.members])  # (S, B, 1...)
        mixed = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
        (grad,) = torch.autograd.grad(self.D(mixed).sum(), mixed, create_graph=True)
        return ((grad.flatten(2).norm(dim=2) - 1) ** 2).mean(1)

    def g_step(self, records: list[DStep]) -> dict[str, Tensor]:
        """One G step of every member (D fixed) on its adversarial loss plus its weighted G
        terms (each member's own, on its slice of the generated batch, against its own D);
        returns each member's G loss and terms, each (S,)."""
        fake = self.G(self._latents())  # (S, B, ...)
        losses = self.loss.gen(self.D(self._see(fake, "fake")).flatten(1)).mean(1)  # (S,)
        logs: list[dict[str, Tensor]] = []
        if any(m.g_terms for m in self.members):
            totals = []
            for s, (member, d) in enumerate(zip(self.members, records)):
                total, out = losses[s], {}
                for term in member.g_terms:
                    weighted = term.value(self.step, Batch(fake[s]), d, member.D)
                    if weighted is not None:
                        total = total + weighted[0] * weighted[1]
                        out[f"g_{term.name}"] = weighted[1].detach()
                totals.append(total)
                logs.append(out)
            losses = torch.stack(totals)
        self.g_opt.zero_grad(set_to_none=True)
        losses.sum().backward(inputs=list(self.G.params.values()))  # no gradient for D's
        self.g_opt.step()
        return {"g_loss": losses.detach(), **(_stacked_logs(logs) if logs else {})}

    def _update_ema(self) -> None:
        with torch.no_grad():
            for name, avg in self.ema.items():
                if self.ema_count == 0:
                    avg.copy_(self.G.params[name])
                else:
                    avg.lerp_(self.G.params[name], 1 - self.ema_decay)
        self.ema_count += 1

    def train_step(self) -> dict[str, Tensor]:
        """One step of every member; values to log, each (S,) (one entry per member)."""
        self._set_levels()
        for i in range(self.d_steps):
            d_logs, records = self.d_step(keep_graph=i == self.d_steps - 1)
        if self.d_readers:  # players and G terms read each member's own D, brought up to date
            self.D.write_back([m.D for m in self.members])
        d_logs.update(self._play(records))
        g_logs = self.g_step(records)
        if self.ema is not None:
            first = self.members[0]
            if self.step > 0 and first.level_key(self.step) != first.level_key(self.step - 1):
                self.ema_count = 0  # the average restarts with each temperature
            self._update_ema()
        self.step += 1
        return {**d_logs, **g_logs}

    def describe(self, s: int) -> dict[str, float]:
        """Member ``s``'s levels for its log, as ``Trainer.describe`` gives a single run's."""
        out: dict[str, float] = {}
        for tempering in self.members[s].temperings:
            out.update(tempering.describe())
        for controller in self.members[s].controllers:
            out.update(controller.describe())
        for term in self.members[s].g_terms:
            out[f"{term.name}_weight"] = float(term.weight(self.step))
        schedule = self.members[s].lr_schedule
        if schedule is not None:
            out["lr_factor"] = schedule(self.step)
        for side, opt in (("g", self.g_opt), ("d", self.d_opt)):
            if hasattr(opt, "noise_level"):  # Langevin optimizers: the noise member s got
                out.update({f"{side}_{k}": v for k, v in opt.noise_level(s).items()})
        return out

    # ----------------------------------------------------------------------------------------
    def sync(self) -> list[Trainer]:
        """Write the stacked state back into the members (weights, optimizer state, EMA, step)
        and return them: each is then an ordinary trainer, as its single run would be."""
        for attr, stacked, opt_attr in (("G", self.G, "g_opt"), ("D", self.D, "d_opt")):
            nets = [getattr(m, attr) for m in self.members]
            stacked.write_back(nets)
            opt = self.g_opt if attr == "G" else self.d_opt
            for s, (member, net) in enumerate(zip(self.members, nets)):
                member_opt = getattr(member, opt_attr)
                for (_, p), stacked_p in zip(net.named_parameters(), stacked.params.values()):
                    state = opt.state.get(stacked_p)
                    if state:
                        member_opt.state[p] = {
                            key: value[s].clone() if _per_member(key, value, stacked_p)
                            else _common(value) for key, value in state.items()}
        for s, member in enumerate(self.members):
            member.step = self.step
            if self.ema is not None:
                with torch.no_grad():
                    for name, p in member.G_ema.module.named_parameters():
                        p.copy_(self.ema[name][s])
                    member.G_ema.n_averaged.fill_(self.ema_count)
        return self.members
