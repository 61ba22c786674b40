"""The training step, written once, over S ≥ 1 members; a single run is one member.

Every tensor of the step has a leading member axis: data (S, B, ...), latents (S, B, z_dim),
logits (S, B), losses (S,), on which the loss's terms act elementwise (``AdversarialLoss.real``,
``fake``, ``gen``). A member is a ``Trainer`` with its own networks, temperings, controllers,
players, G terms, optimizers and random streams, drawn from in the order of its single run, so
a member is its single run up to floating-point rounding. Its own parts (data, latents,
temperings, controllers, players, G terms) act member by member; the networks and optimizers
run on one of two engines with the same interface:

- ``Looped`` (here): each member's own G, D and optimizers, member by member: any network and
  option (batch norm with each member's own statistics, labels, ``train.amp``,
  ``train.compile``, torchrun's replicas, every SGLD variance estimator). A single run is this
  with S = 1: its networks called directly.
- ``Stacked`` (``train/ensemble.py``): parameters stacked along the member axis, G and D run
  once for all members, one elementwise optimizer: the fast path for S > 1 members that it
  supports and that agree in what it holds once (``ensemble.not_stacked``), also as torchrun's
  replicas (each process holds its rows of every member's batch).

The members' losses are summed and differentiated once: each member's parameters get its own
gradient.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import TYPE_CHECKING

import torch
from torch import Tensor, nn

from thermogan.data.batch import Batch
from thermogan.step import DStep, d_summary
from thermogan.train.ensemble import SIDES, Stacked, not_stacked

if TYPE_CHECKING:
    from thermogan.train.trainer import Trainer


def stack(tensors: Sequence[Tensor]) -> Tensor:
    """``torch.stack`` along a new member axis; one tensor becomes a view (no copy)."""
    return tensors[0].unsqueeze(0) if len(tensors) == 1 else torch.stack(list(tensors))


def _stack_labels(labels: Sequence[Tensor | None]) -> Tensor | None:
    return None if labels[0] is None else stack(labels)


def _row(y: Tensor | None, s: int) -> Tensor | None:
    return None if y is None else y[s]


def call(net: nn.Module, x: Tensor, y: Tensor | None) -> Tensor:
    """``net(x)``, or ``net(x, y)`` for a class-conditional network."""
    return net(x) if y is None else net(x, y)


def _stacked_logs(logs: list[dict[str, Tensor]]) -> dict[str, Tensor]:
    """The members' logs as one dict of (S,) tensors (the keys every member logged)."""
    return {key: stack([out[key] for out in logs]) for key in logs[0]
            if all(key in out for out in logs)}


class Looped:
    """Each member's own networks and optimizers, member by member (see the module docstring)."""

    def __init__(self, members: Sequence[Trainer]) -> None:
        self.members = list(members)

    def G(self, z: Tensor, y: Tensor | None) -> Tensor:
        """Generated samples (S, B, ...) of latents z (S, B, z_dim) and labels y (S, B)."""
        return stack([call(m.autocast(m.G), z[s], _row(y, s))
                      for s, m in enumerate(self.members)])

    def D(self, x: Tensor, y: Tensor | None, autocast: bool = True) -> Tensor:
        """Logits (S, B, 1); ``autocast=False``: at the networks' own precision (the penalty)."""
        return stack([call(m.autocast(m.D) if autocast else m.D, x[s], _row(y, s))
                      for s, m in enumerate(self.members)])

    @contextmanager
    def recording(self) -> Iterator[None]:
        """D's calls inside keep what an SGLD D's per-example variance needs."""
        with ExitStack() as stack_:
            for m in self.members:
                if m.d_variance is not None:
                    stack_.enter_context(m.d_variance.watch())
            yield

    def hand_variance(self, real: Tensor, fake: Tensor, real_y: Tensor | None,
                      fake_y: Tensor | None) -> None:
        """After D's backward: each SGLD D's gradient variance to its optimizer."""
        for s, m in enumerate(self.members):
            if m.d_variance is not None:
                m.d_opt.set_variance(m.d_variance(real[s], fake[s], _row(real_y, s),
                                                  _row(fake_y, s)))

    def g_params(self) -> list[Tensor]:
        return [p for m in self.members for p in m.g_params]

    def zero_grad(self, side: str) -> None:
        for m in self.members:
            getattr(m, f"{side}_opt").zero_grad(set_to_none=True)

    def step(self, side: str) -> None:
        for m in self.members:
            getattr(m, f"{side}_opt").step()

    def update_ema(self) -> None:
        for m in self.members:
            m.G_ema.update_parameters(m.G)

    def describe(self, s: int) -> dict[str, float]:
        return {}  # a member's own optimizers: its describe() has their noise

    def sync(self, sides: Sequence[str] = SIDES) -> None:
        """Nothing to write back: the members' own parts did the work."""


class Members:
    """S ≥ 1 trainers stepped as one (see the module docstring). Members share the loss, the
    batch size, the D steps, the gradient penalty, D's packs, the latent size and the step."""

    def __init__(self, trainers: Sequence[Trainer]) -> None:
        if not trainers:
            raise ValueError("a step needs at least one member")
        self.members = list(trainers)
        first = self.members[0]
        shared = ("loss", "batch_size", "d_steps", "penalty", "packs", "z_dim",
                  "num_classes", "step")
        for key in shared:
            if any(getattr(m, key) != getattr(first, key) for m in self.members):
                raise ValueError(f"the members differ in {key}; they cannot share a step")
        self.loss, self.batch_size, self.d_steps = first.loss, first.batch_size, first.d_steps
        self.penalty, self.packs = first.penalty, first.packs
        # G terms that read D's optimizer (the unrolled term) read each member's own
        self.reads_d_optimizer = any(getattr(t.term, "reads_d_optimizer", False)
                                     for m in self.members for t in m.g_terms)
        stacked = not_stacked(self.members) is None
        self.nets = Stacked(self.members) if stacked else Looped(self.members)

    @property
    def step(self) -> int:
        return self.members[0].step

    # ----------------------------------------------------------------------------------------
    def _real(self) -> list[Batch]:
        """Each member's real batch (B, ...) from its data stream: this replica's rows, with
        labels in conditional runs only."""
        out = []
        for m in self.members:
            real = m.data.sample(self.batch_size, m.rngs["data"], m.device)
            out.append(Batch(m.replicas.take(real.x),
                             None if m.num_classes is None else m.replicas.take(real.y)))
        return out

    def _latents(self) -> tuple[Tensor, Tensor | None]:
        """Latents (S, B, z_dim) and labels (S, B) (None: unconditional) of the whole batch
        from each member's latent stream, this replica's rows of them."""
        zs, ys = [], []
        for m in self.members:
            zs.append(m.replicas.take(m.sample_z(self.batch_size)))
            ys.append(m.replicas.take(m.sample_labels(self.batch_size)))
        return stack(zs), _stack_labels(ys)

    def _see(self, x: Tensor, side: str) -> Tensor:
        """What each member's D sees of its slice of x (S, B, ...): its own temperings."""
        if not any(m.sided[side] for m in self.members):
            return x
        return stack([m.see(x[s], side) for s, m in enumerate(self.members)])

    def d_step(self, keep_graph: bool = True) -> tuple[list[DStep], dict[str, Tensor]]:
        """One D step of every member on its real batch and a generated one, both through its
        temperings; returns each member's record of it and the values to log, each (S,).

        ``keep_graph``: learned temperings keep their forward pass for their player's step."""
        real = self._real()
        real_y = _stack_labels([b.y for b in real])
        with torch.set_grad_enabled(keep_graph):
            real_seen = self._see(stack([b.x for b in real]), "real").detach()  # (S, B, ...)
        with torch.no_grad():
            z, fake_y = self._latents()
            fake = self.nets.G(z, fake_y)  # (S, B, ...)
            fake_seen = self._see(fake, "fake")
        with self.nets.recording():  # an SGLD D's variance reads these two calls
            real_logits = self.nets.D(real_seen, real_y).flatten(1)  # (S, B)
            fake_logits = self.nets.D(fake_seen, fake_y).flatten(1)
        losses = self.loss.real(real_logits).mean(1) + self.loss.fake(fake_logits).mean(1)
        if self.penalty is not None:  # on D's gradients at what it saw, at full precision
            losses = losses + self.penalty(
                lambda x, y: self.nets.D(x, y, autocast=False), real_seen, fake_seen, real_y,
                fake_y, [m.rngs["penalty"] for m in self.members], self.packs)
        self.nets.zero_grad("d")
        losses.sum().backward()  # member s's parameters get member s's gradient only
        self.nets.hand_variance(real_seen, fake_seen, real_y, fake_y)
        self.nets.step("d")
        real_logits, fake_logits, losses = (t.detach() for t in (real_logits, fake_logits,
                                                                 losses))
        return [DStep(real[s], Batch(fake[s], _row(fake_y, s)), real_seen[s], fake_seen[s],
                      real_logits[s], fake_logits[s], losses[s])
                for s in range(len(self.members))], d_summary(losses, real_logits, fake_logits)

    def _play(self, m: Trainer, d: DStep) -> dict[str, Tensor]:
        """Member m's controllers observe its record (the whole batch's logits), its players
        take their step against its own D (fixed); returns the players' logs."""
        if m.controllers:
            record = m.replicas.whole_logits(d)
            for controller in m.controllers:
                controller.observe(record)
        logs: dict[str, Tensor] = {}
        for name, player in m.players.items():
            logs.update(player.update(d, m.D, self.loss, m.rngs[f"player.{name}"]))
        # what players stepped by hand, and the levels that observed a replica's own record
        m.replicas.agree([m.temperings, m.term_modules, m.term_levels, m.optim_levels])
        return logs

    def g_step(self, records: Sequence[DStep]) -> dict[str, Tensor]:
        """One G step of every member (D fixed) on its adversarial loss plus its weighted G
        terms (each member's own, on its slice of the generated batch, against its own D);
        returns each member's G loss and terms, each (S,)."""
        z, y = self._latents()
        fake = self.nets.G(z, y)  # (S, B, ...) with G's graph
        logits = self.nets.D(self._see(fake, "fake"), y).flatten(1)  # (S, B)
        losses = self.loss.gen(logits).mean(1)  # (S,)
        logs: list[dict[str, Tensor]] = [{}]
        if any(m.g_terms for m in self.members):
            if self.reads_d_optimizer:
                self.nets.sync(("d",))
            totals, logs = [], []
            for s, (m, d) in enumerate(zip(self.members, records)):
                total, out = losses[s], {}
                for term in m.g_terms:
                    weighted = term.value(m.step, Batch(fake[s], _row(y, s)), d, m.D)
                    if weighted is not None:
                        total = total + weighted[0] * weighted[1]
                        out[f"g_{term.name}"] = weighted[1].detach()
                totals.append(total)
                logs.append(out)
            losses = stack(totals)
        self.nets.zero_grad("g")
        losses.sum().backward(inputs=self.nets.g_params())  # no gradient for D's weights
        self.nets.step("g")
        return {"g_loss": losses.detach(), **_stacked_logs(logs)}

    def train_step(self) -> dict[str, Tensor]:
        """One step of every member; values to log, each (S,) (not synchronised)."""
        # advance levels: learning rates and every tempering's level at this step
        for m in self.members:
            m.set_levels(m.step)
        # D step(s): real batch through the temperings, fake batch detached from G
        for i in range(self.d_steps):
            records, logs = self.d_step(keep_graph=i == self.d_steps - 1)
        # controllers read what D said; players take their step with D fixed
        logs.update(_stacked_logs([self._play(m, d) for m, d in zip(self.members, records)]))
        # G step, then the moving average of its weights (restarted at each temperature)
        logs.update(self.g_step(records))
        if self.members[0].G_ema is not None:
            for m in self.members:
                if m.step > 0 and m.level_key(m.step) != m.level_key(m.step - 1):
                    m.G_ema.n_averaged.zero_()
            self.nets.update_ema()
        for m in self.members:
            m.step += 1
        return logs

    def describe(self, s: int) -> dict[str, float]:
        """Member s's levels for its log (``Trainer.describe``, with the noise its Langevin
        optimizer injected)."""
        return {**self.members[s].describe(), **self.nets.describe(s)}

    def sync(self) -> list[Trainer]:
        """The members, each brought up to date as an ordinary trainer (its optimizers' state)."""
        self.nets.sync()
        return self.members
