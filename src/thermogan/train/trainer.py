"""One run: its generator, discriminator, data, temperings (what D sees), adversarial loss,
players, G terms and optimizers, the step counter and one seeded ``torch.Generator`` per consumer
of randomness (``train/rng.py``).

Its training step (levels, D step(s), controllers, players, G step, EMA of G) is the step of
S ≥ 1 members (``train/members.py``) with this run as its one member, so a single run and each
member of a shared computation go through the same code. ``state_dict()`` collects every part
by name, so a resumed run is bit-identical on CPU to an uninterrupted one and a new part never
edits the checkpoint code.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator, Sequence
from typing import Any

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel

from thermogan.data.batch import Batch, DataSource
from thermogan.nets.packed import pack_size
from thermogan.objectives.adversarial import AdversarialLoss, get_loss
from thermogan.objectives.penalties import Penalty
from thermogan.objectives.terms import WeightedTerm
from thermogan.optim import adam
from thermogan.optim.langevin import Langevin
from thermogan.schedules import Schedule
from thermogan.step import DStep, Player
from thermogan.tempering.base import SIDES, Tempering
from thermogan.tempering.control import Controller, Level
from thermogan.train import rng
from thermogan.train.distributed import Replicas
from thermogan.train.dvariance import DVariance
from thermogan.train.ema import warmed_ema
from thermogan.train.members import Members
from thermogan.train.precision import Autocast


def _unique_names(players: Sequence[Player]) -> list[str]:
    names: list[str] = []
    for player in players:
        name, i = player.name, 1
        while name in names:
            name, i = f"{player.name}.{i}", i + 1
        names.append(name)
    return names


class Trainer:
    """Trains G against D on ``data``; see ``train_step`` for the order of the updates.

    ``temperings``: what D sees, applied in order to the sides each names (``see``); their
    players (the lens's optimizer, β'-GAN's coupling) join ``players``. ``g_terms``: weighted
    terms added to G's loss; their players (a learned score's denoiser) join too.
    ``num_classes``: a class-conditional G and D (None: unconditional); generated samples get
    uniformly drawn labels. ``lr_schedule`` multiplies both learning rates at each step.
    ``ema``: decay of an exponential moving average of G's weights, restarted at each
    temperature level so that it never mixes levels. ``penalty``: a gradient penalty on what D
    sees (``objectives/penalties.py``; None: the loss's default, WGAN-GP of weight 10 for
    wgan-gp; weight 0: none). ``amp``: "bf16" runs G's and D's forward passes of the training
    step in bfloat16, everything between them in float32 (``train/precision.py``); None: as the
    networks are.
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, data: DataSource, *,
                 z_dim: int, loss: str | AdversarialLoss = "minimax",
                 g_optimizer: torch.optim.Optimizer | None = None,
                 d_optimizer: torch.optim.Optimizer | None = None,
                 batch_size: int = 256, d_steps: int = 1, penalty: Penalty | None = None,
                 ema: float | None = None, temperings: Tempering | Sequence[Tempering] = (),
                 players: Sequence[Player] = (), g_terms: Sequence[WeightedTerm] = (),
                 num_classes: int | None = None, lr_schedule: Schedule | None = None,
                 z_dist: str = "normal", seed: int = 0, amp: str | None = None,
                 temperatures: dict[str, Level | None] | None = None,
                 device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.G = generator.to(self.device)
        self.D = discriminator.to(self.device)
        self.autocast = Autocast(amp, self.device)  # self.autocast(net): net at the step's dtype
        self.data = data
        self.z_dim, self.z_dist, self.num_classes = z_dim, z_dist, num_classes
        self.loss = get_loss(loss)
        self.penalty = self.loss.penalty_in_effect(penalty)
        self.packs = pack_size(self.D)  # samples D judges at once (PacGAN)
        self.g_opt = g_optimizer or adam(self.G.parameters())
        self.d_opt = d_optimizer or adam(self.D.parameters())
        self.g_params = list(self.G.parameters())
        # hyperparameters as configured: a resumed run keeps these, not the checkpoint's
        self.hparams = [[{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
                        for opt in (self.g_opt, self.d_opt)]
        self.batch_size, self.d_steps = batch_size, d_steps
        chain = [temperings] if isinstance(temperings, Tempering) else list(temperings)
        self.temperings = nn.ModuleList(chain).to(self.device)
        self.sided = {side: [(f"tempering.{i}", t) for i, t in enumerate(chain)
                              if side in t.sides] for side in SIDES}
        self.g_terms = list(g_terms)
        self.term_modules = nn.ModuleList(
            [t.term for t in self.g_terms if isinstance(t.term, nn.Module)]).to(self.device)
        all_players = [p for part in (*chain, *self.g_terms) for p in part.players()]
        all_players += list(players)
        self.players = dict(zip(_unique_names(all_players), all_players))
        for player in all_players:
            player.check(self.loss)
        self.term_levels = nn.ModuleList(  # G terms' weights that keep state (controllers)
            [t.weight for t in self.g_terms if isinstance(t.weight, nn.Module)]).to(self.device)
        self.temperatures = {side: level for side, level in (temperatures or {}).items()
                             if level is not None}
        self.optim_levels = nn.ModuleList(  # Langevin temperatures that keep state
            [t for t in self.temperatures.values() if isinstance(t, nn.Module)]).to(self.device)
        self.controllers = [m for part in (self.temperings, self.term_levels, self.optim_levels)
                            for m in part.modules() if isinstance(m, Controller)]
        self.lr_schedule = lr_schedule
        self.G_ema, self.ema_decay = None, ema
        if ema is not None:
            self.G_ema = AveragedModel(self.G, multi_avg_fn=warmed_ema(ema), use_buffers=True)
        consumers = ["data", "latents", "penalty", "optim.g", "optim.d",
                     *(f"tempering.{i}" for i in range(len(chain))),
                     *(f"player.{name}" for name in self.players)]
        self.rngs = rng.streams(seed, consumers, self.device)
        for name, opt in (("optim.g", self.g_opt), ("optim.d", self.d_opt)):
            if isinstance(opt, Langevin):  # optimizers that draw noise use their stream
                opt.generator = self.rngs[name]
        self.d_variance = DVariance.for_optimizer(self.D, self.loss, self.d_opt,
                                                  penalised=self.penalty is not None)
        self.replicas = Replicas()  # one process; train/distributed.py makes it data-parallel
        self.step = 0
        self._members: Members | None = None

    # ----------------------------------------------------------------------------------------
    def sample_z(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Latents (n, z_dim) from the prior, drawn with ``generator`` (default: the latents')."""
        gen = generator or self.rngs["latents"]
        if self.z_dist == "uniform":
            return 2 * torch.rand(n, self.z_dim, generator=gen, device=gen.device) - 1
        return torch.randn(n, self.z_dim, generator=gen, device=gen.device)

    def sample_labels(self, n: int, generator: torch.Generator | None = None) -> Tensor | None:
        """Labels (n,) drawn uniformly over the classes; None for an unconditional G."""
        if self.num_classes is None:
            return None
        gen = generator or self.rngs["latents"]
        return torch.randint(self.num_classes, (n,), generator=gen, device=gen.device)

    def generate(self, n: int, generator: torch.Generator | None = None,
                 net: nn.Module | None = None, labels: Tensor | None = None) -> Batch:
        """A generated batch G(z, y): latents (and labels, unless given) from ``generator``."""
        z = self.sample_z(n, generator)  # (n, z_dim)
        y = self.sample_labels(n, generator) if labels is None else labels  # (n,) or None
        net = net or self.G
        return Batch(net(z) if y is None else net(z, y), y)

    def see(self, x: Tensor, side: str, generator: torch.Generator | None = None) -> Tensor:
        """What D sees of ``x`` on ``side`` ("real" or "fake"): the temperings that act on that
        side, in order, each drawing from its own stream (or all from ``generator``)."""
        for name, tempering in self.sided[side]:
            x = tempering(x, generator=generator or self.rngs[name])
        return x

    def set_levels(self, step: int) -> None:
        """Move every level to its value at ``step``: the temperings', the learning rates
        (``lr_schedule``) and the Langevin temperatures given as levels (the training step
        calls it first)."""
        for tempering in self.temperings:
            tempering.set_step(step)
        if self.lr_schedule is not None:
            factor = self.lr_schedule(step)
            for opt, groups in zip((self.g_opt, self.d_opt), self.hparams):
                for group, hp in zip(opt.param_groups, groups):
                    group["lr"] = hp["lr"] * factor
        for side, level in self.temperatures.items():
            for group in (self.g_opt if side == "g" else self.d_opt).param_groups:
                group["temperature"] = float(level(step))

    def level_key(self, step: int) -> tuple[Hashable, ...]:
        """The temperings' level keys at ``step``: a new temperature level starts at a change."""
        return tuple(t.level_key(step) for t in self.temperings)

    # ----------------------------------------------------------------------------------------
    @property
    def members(self) -> Members:
        """This run as the one member of a training step (``train/members.py``)."""
        if self._members is None:
            self._members = Members([self])
        return self._members

    def train_step(self) -> dict[str, Tensor]:
        """One step (``Members.train_step``); returns detached values to log (0-dim tensors,
        not synchronised)."""
        return {key: value[0] for key, value in self.members.train_step().items()}

    def d_step(self, keep_graph: bool = True) -> DStep:
        """One step of D on a real batch and a generated one, both through the temperings."""
        return self.members.d_step(keep_graph)[0][0]

    def g_step(self, d: DStep) -> dict[str, Tensor]:
        """One step of G on its adversarial loss plus the weighted G terms (D fixed)."""
        return {key: value[0] for key, value in self.members.g_step([d]).items()}

    def describe(self) -> dict[str, float]:
        """Current levels for logs and the progress bar (temperings' levels, the G terms'
        weights, lr factor)."""
        out: dict[str, float] = {}
        for tempering in self.temperings:
            out.update(tempering.describe())
        for controller in self.controllers:  # an adaptive level's heat and D's sign
            out.update(controller.describe())
        for term in self.g_terms:
            out[f"{term.name}_weight"] = float(term.weight(self.step))
        if self.lr_schedule is not None:
            out["lr_factor"] = self.lr_schedule(self.step)
        for side, opt in (("g", self.g_opt), ("d", self.d_opt)):
            if isinstance(opt, Langevin):  # the noise it injects
                out.update({f"{side}_{k}": v for k, v in opt.noise_level().items()})
        return out

    # ----------------------------------------------------------------------------------------
    @property
    def sampler(self) -> nn.Module:
        """The generator used for evaluation: the EMA copy when there is one."""
        return self.G_ema.module if self.G_ema is not None else self.G

    def sample(self, n: int, seed: int, use_ema: bool = True, batch: int = 10000,
               labels: int | Tensor | None = None) -> Tensor:
        """``n`` generated samples on the CPU, from latents drawn with a generator seeded ``seed``.

        ``labels`` (conditional G): one class for all, a tensor (n,) of classes, or None for
        labels drawn uniformly with the same generator.
        """
        return torch.cat(list(self.sample_batches(n, seed, use_ema, batch, labels)))

    def sample_batches(self, n: int, seed: int, use_ema: bool = True, batch: int = 10000,
                       labels: int | Tensor | None = None) -> Iterator[Tensor]:
        """The samples of ``sample(n, seed)``, yielded ``batch`` at a time (on the CPU)."""
        net = self.sampler if use_ema else self.G
        gen = torch.Generator(self.device).manual_seed(seed)
        given = self._labels(n, labels)
        was_training = net.training
        net.eval()
        try:
            for i in range(0, n, batch):
                y = None if given is None else given[i:i + batch]
                with torch.no_grad():
                    out = self.generate(min(batch, n - i), gen, net, y).x.cpu()
                yield out
        finally:
            net.train(was_training)

    def _labels(self, n: int, labels: int | Tensor | None) -> Tensor | None:
        if labels is None:
            return None
        if self.num_classes is None:
            raise ValueError("labels were given, but the generator is not class-conditional")
        y = torch.as_tensor(labels, dtype=torch.int64, device=self.device).expand(n).clone()
        if y.min() < 0 or y.max() >= self.num_classes:
            raise ValueError(f"labels must be classes 0 to {self.num_classes - 1}")
        return y

    # ----------------------------------------------------------------------------------------
    def _parts(self) -> dict[str, Any]:
        """Every part with a ``state_dict`` but the players, under its name in the checkpoint."""
        parts = {"generator": self.G, "discriminator": self.D, "temperings": self.temperings,
                 "term_levels": self.term_levels, "optim_levels": self.optim_levels,
                 "g_optimizer": self.g_opt, "d_optimizer": self.d_opt}
        return parts if self.G_ema is None else {**parts, "generator_ema": self.G_ema}

    def state_dict(self) -> dict[str, Any]:
        """One dict: the step, models, temperings, players and optimizers, every RNG state."""
        return {"step": self.step, "generator_ema": None,
                **{name: part.state_dict() for name, part in self._parts().items()},
                "players": {name: player.state_dict() for name, player in self.players.items()},
                "rng": rng.capture(self.rngs),
                **({"rng_replicas": self.replicas.gather(rng.capture(self.rngs))}
                   if self.replicas.size > 1 else {})}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict()``; the run then continues exactly where it stopped."""
        self.step = int(state["step"])
        for name, part in self._parts().items():
            if state.get(name) is None and not name.endswith("_levels"):  # runs of before: none
                raise KeyError(name)
            part.load_state_dict(state.get(name, {}))
        for name, player in self.players.items():
            if name not in state["players"]:
                raise KeyError(f"player {name}")
            player.load_state_dict(state["players"][name])
        self.g_opt.load_state_dict(state["g_optimizer"])
        self.d_opt.load_state_dict(state["d_optimizer"])
        for opt, groups in zip((self.g_opt, self.d_opt), self.hparams):
            for group, hp in zip(opt.param_groups, groups):
                group.update(hp)
        replicas = len(state.get("rng_replicas", [None]))
        if replicas != self.replicas.size:
            how = f"torchrun --nproc_per_node={replicas}" if replicas > 1 else "one process"
            raise ValueError(f"it was trained by {replicas} process(es), not "
                             f"{self.replicas.size}; resume it with {how}")
        rng.restore(self.rngs, state["rng_replicas"][self.replicas.rank] if replicas > 1
                    else state["rng"])
