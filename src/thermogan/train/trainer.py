"""One training step: D step(s), the tempering's own step, G step, EMA of G.

The Trainer is the one place where the generator, the discriminator, the tempering (what D sees),
the adversarial loss and the optimizers meet. It owns the step counter and a seeded
``torch.Generator`` for every draw (data, latents, noise), and ``state_dict()`` holds everything a
resume needs, so that a resumed run is bit-identical on CPU to an uninterrupted one.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any, Protocol

import torch
from torch import Tensor, nn
from torch.optim.swa_utils import AveragedModel, get_ema_multi_avg_fn

from thermogan.objectives.adversarial import AdversarialLoss, get_loss
from thermogan.objectives.penalties import gradient_penalty
from thermogan.schedules import Schedule
from thermogan.tempering.base import Tempering
from thermogan.train import rng


class DataSource(Protocol):
    """Anything that draws a batch of real samples with a given torch.Generator."""

    def sample(self, n: int, generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> Tensor: ...


class Trainer:
    """Trains G against D on ``data``; see ``train_step`` for the order of the updates.

    ``lr_schedule`` multiplies both learning rates at each step (None: constant). ``ema`` is the
    decay of an exponential moving average of G's weights (None: none); with a tempering that has
    levels (β-GAN), the average restarts at the first step of each level, so that it never mixes
    generators trained against different temperatures. ``gp_weight`` weights a
    gradient penalty on interpolates of what D sees (None: the loss's default, 10 for wgan-gp).
    """

    def __init__(self, generator: nn.Module, discriminator: nn.Module, data: DataSource, *,
                 z_dim: int, loss: str | AdversarialLoss = "minimax",
                 g_optimizer: torch.optim.Optimizer | None = None,
                 d_optimizer: torch.optim.Optimizer | None = None,
                 batch_size: int = 256, d_steps: int = 1, gp_weight: float | None = None,
                 ema: float | None = None, tempering: Tempering | None = None,
                 lr_schedule: Schedule | None = None, z_dist: str = "normal", seed: int = 0,
                 device: torch.device | str = "cpu") -> None:
        self.device = torch.device(device)
        self.G = generator.to(self.device)
        self.D = discriminator.to(self.device)
        self.data = data
        self.z_dim, self.z_dist = z_dim, z_dist
        self.loss = get_loss(loss) if isinstance(loss, str) else loss
        self.gp_weight = self.loss.gp_weight if gp_weight is None else gp_weight
        self.g_opt = g_optimizer or torch.optim.Adam(self.G.parameters(), 1e-3, betas=(0.5, 0.999))
        self.d_opt = d_optimizer or torch.optim.Adam(self.D.parameters(), 1e-3, betas=(0.5, 0.999))
        # hyperparameters as configured: a resumed run keeps these, not the checkpoint's
        self.hparams = [[{k: v for k, v in g.items() if k != "params"} for g in opt.param_groups]
                        for opt in (self.g_opt, self.d_opt)]
        self.batch_size, self.d_steps = batch_size, d_steps
        self.tempering = (tempering or Tempering()).to(self.device)
        self.lr_schedule = lr_schedule
        self.G_ema = None
        if ema is not None:
            self.G_ema = AveragedModel(self.G, multi_avg_fn=get_ema_multi_avg_fn(ema),
                                       use_buffers=True)
        self.rng = torch.Generator(self.device).manual_seed(seed)
        self.step = 0

    # ----------------------------------------------------------------------------------------
    def sample_z(self, n: int, generator: torch.Generator | None = None) -> Tensor:
        """Latents (n, z_dim) from the prior, drawn with ``generator`` (default: the trainer's)."""
        gen = generator or self.rng
        if self.z_dist == "uniform":
            return 2 * torch.rand(n, self.z_dim, generator=gen, device=gen.device) - 1
        return torch.randn(n, self.z_dim, generator=gen, device=gen.device)

    def _seen_fake(self, fake: Tensor) -> Tensor:
        return self.tempering(fake, generator=self.rng) if self.tempering.applies_to_fake else fake

    def _d_step(self, last: bool) -> tuple[Tensor, Tensor]:
        real = self.data.sample(self.batch_size, self.rng, self.device)  # (B, ...)
        with torch.set_grad_enabled(last):  # a lens keeps the last D step's graph for its step
            real_seen = self.tempering(real, generator=self.rng).detach()  # (B, ...)
        with torch.no_grad():
            fake_seen = self._seen_fake(self.G(self.sample_z(self.batch_size)))  # (B, ...)
        loss = self.loss.d(self.D(real_seen), self.D(fake_seen))
        if self.gp_weight:
            loss = loss + self.gp_weight * gradient_penalty(self.D, real_seen, fake_seen, self.rng)
        self.d_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.d_opt.step()
        return loss.detach(), real

    def _g_step(self) -> Tensor:
        self.D.requires_grad_(False)  # G's step needs no gradient for D's weights
        fake = self.G(self.sample_z(self.batch_size))  # (B, ...)
        loss = self.loss.g(self.D(self._seen_fake(fake)))
        self.g_opt.zero_grad(set_to_none=True)
        loss.backward()
        self.g_opt.step()
        self.D.requires_grad_(True)
        return loss.detach()

    def _advance_schedules(self) -> None:
        if self.lr_schedule is not None:
            factor = self.lr_schedule(self.step)
            for opt, groups in zip((self.g_opt, self.d_opt), self.hparams):
                for group, hp in zip(opt.param_groups, groups):
                    group["lr"] = hp["lr"] * factor
        self.tempering.set_step(self.step)

    def train_step(self) -> dict[str, Tensor]:
        """One step; returns detached losses (0-dim tensors, not synchronised)."""
        # advance schedules: learning rate and the tempering's level at this step
        self._advance_schedules()
        # D step(s): real batch through the tempering, fake batch detached from G
        for i in range(self.d_steps):
            d_loss, real = self._d_step(last=i == self.d_steps - 1)
        # tempering step: learned temperings update with D fixed (no-op otherwise)
        extra = self.tempering.update(real, self.D, self.loss)
        # G step, then the moving average of its weights
        g_loss = self._g_step()
        if self.G_ema is not None:
            if self._first_step_of_level():  # the average restarts with each temperature
                self.G_ema.n_averaged.zero_()
            self.G_ema.update_parameters(self.G)
        self.step += 1
        return {"d_loss": d_loss, "g_loss": g_loss, **extra}

    def _first_step_of_level(self) -> bool:
        key = getattr(self.tempering, "level_key", None)
        return key is not None and self.step > 0 and key(self.step) != key(self.step - 1)

    def describe(self) -> dict[str, float]:
        """Current levels for logs and the progress bar (tempering's stage/level, lr factor)."""
        out = dict(self.tempering.describe())
        if self.lr_schedule is not None:
            out["lr_factor"] = self.lr_schedule(self.step)
        return out

    @property
    def sampler(self) -> nn.Module:
        """The generator used for evaluation: the EMA copy when there is one."""
        return self.G_ema.module if self.G_ema is not None else self.G

    def sample(self, n: int, seed: int, use_ema: bool = True, batch: int = 10000) -> Tensor:
        """``n`` generated samples on the CPU, from latents drawn with a generator seeded ``seed``."""
        return torch.cat(list(self.sample_batches(n, seed, use_ema, batch)))

    def sample_batches(self, n: int, seed: int, use_ema: bool = True,
                       batch: int = 10000) -> Iterator[Tensor]:
        """The samples of ``sample(n, seed)``, yielded ``batch`` at a time (on the CPU)."""
        net = self.sampler if use_ema else self.G
        gen = torch.Generator(self.device).manual_seed(seed)
        was_training = net.training
        net.eval()
        try:
            for i in range(0, n, batch):
                with torch.no_grad():
                    out = net(self.sample_z(min(batch, n - i), gen)).cpu()
                yield out
        finally:
            net.train(was_training)

    # ----------------------------------------------------------------------------------------
    def state_dict(self) -> dict[str, Any]:
        """One dict with the step, all models, optimizers, the tempering and every RNG state."""
        return {
            "step": self.step,
            "generator": self.G.state_dict(),
            "discriminator": self.D.state_dict(),
            "generator_ema": self.G_ema.state_dict() if self.G_ema is not None else None,
            "tempering": self.tempering.state_dict(),
            "g_optimizer": self.g_opt.state_dict(),
            "d_optimizer": self.d_opt.state_dict(),
            "rng": rng.capture(self.rng),
        }

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a ``state_dict()``; the run then continues exactly where it stopped."""
        self.step = int(state["step"])
        self.G.load_state_dict(state["generator"])
        self.D.load_state_dict(state["discriminator"])
        if self.G_ema is not None:
            if state.get("generator_ema") is None:
                raise KeyError("generator_ema")
            self.G_ema.load_state_dict(state["generator_ema"])
        self.tempering.load_state_dict(state["tempering"])
        self.g_opt.load_state_dict(state["g_optimizer"])
        self.d_opt.load_state_dict(state["d_optimizer"])
        for opt, groups in zip((self.g_opt, self.d_opt), self.hparams):
            for group, hp in zip(opt.param_groups, groups):
                group.update(hp)
        rng.restore(self.rng, state["rng"])
