"""β-GAN: the discriminator sees the data heated to inverse temperature β (Mehrjou & Saremi 2017).

Heated data are samples of the Gaussian-kernel mixture p_data(x; β): a training point plus noise,
``x_β = x + ε / sqrt(β)``, ε ~ N(0, I). The data live in the box [a, b]^d (``ToyDataset.in_box``),
and heated samples are folded back into it by mirror reflection (``boundary="reflect"``, default),
so that β → 0 tends to the uniform distribution on the box; ``clip`` and ``none`` are options.
At β = 0 the sample is drawn from Uniform[a, b]^d directly, at β = ∞ the data pass unchanged.

The whole algorithm is one schedule of β over the run (``betagan_schedule``): stage 0 trains on the
uniform box (β = 0), stage 1 cools through K geometric levels, stage 2 trains on the data (β = ∞).
By default both ends of the cooling are trained (levels ``geomspace(β_1, β_K, K)``);
``literal=True`` keeps the paper's off-by-one schedule, which never trains at β_K.

β'-GAN (``coupled=True``, Mehrjou et al. 2018): the noise scale σ = β^{-1/2} also follows the
gradient of the GAN objective, on top of the annealing. Like the generator, it descends
V = E[log D(x_β)] + E[log(1 − D(G(z)))]: an offset δ, with σ = max(σ_schedule + δ, 0), takes one
step of ``coupling_lr`` per training step along −∂V/∂δ (with D fixed, after D's step). This is our
reading of the paper's coupled system (its eq. 8 with the sign docs/dynamics.md explains), a
variant to study: it can settle on the wrong equilibrium. V's real term is the configured loss's
(``AdversarialLoss.real_term``), so the coupling ascends D's loss on heated data whatever the
loss; LSGAN, whose real term can be ascended either way, is refused. The coupling is a player
(``Coupling``) with its own random stream.

Math: ``heated(x, noise, sigma, low, high, boundary)`` is ``fold(x + σ·noise)``.
"""

from __future__ import annotations

import math
from collections.abc import Hashable
from typing import Any

import torch
from torch import Tensor, nn

from thermogan.data.images import ImageData
from thermogan.data.toy import ToyDataset
from thermogan.errors import ConfigError
from thermogan.objectives.adversarial import AdversarialLoss
from thermogan.schedules import Constant, Geometric, Hold, Stage, Stages
from thermogan.step import DStep, Player, discriminate
from thermogan.tempering.base import Tempering
from thermogan.tempering.control import Level, level_source

BOUNDARIES = ("reflect", "clip", "none")


def reflect(x: Tensor, low: float, high: float) -> Tensor:
    """Fold ``x`` into [low, high] by mirror reflection at the walls (identity inside)."""
    width = high - low
    u = torch.remainder(x - low, 2 * width)  # in [0, 2·width)
    return low + torch.where(u > width, 2 * width - u, u)


def fold(y: Tensor, low: float, high: float, boundary: str = "reflect") -> Tensor:
    """Bring ``y`` back into the box: mirror reflection, clipping, or nothing (``none``)."""
    if boundary == "reflect":
        return reflect(y, low, high)
    if boundary == "clip":
        return y.clamp(low, high)
    return y


def heated(x: Tensor, noise: Tensor, sigma: float | Tensor, low: float = -1.0, high: float = 1.0,
           boundary: str = "reflect") -> Tensor:
    """Data heated to noise scale σ = β^{-1/2}: ``x + σ·noise`` folded into [low, high]^d."""
    return fold(x + sigma * noise, low, high, boundary)


def check_fractions(fractions: tuple[float, ...]) -> None:
    """The three stages' shares of a run: non-negative, summing to 1."""
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"fractions={list(fractions)!r}: three non-negative numbers summing to 1")


def betagan_schedule(total_steps: int, beta_start: float = 0.1, beta_end: float = 10.0,
                     levels: int = 20, fractions: tuple[float, float, float] = (0.1, 0.7, 0.2),
                     literal: bool = False) -> Stages:
    """β over a run of ``total_steps``: uniform box, K geometric levels, then the data.

    ``fractions`` split the budget between the three stages; the cooling stage is rounded down to
    a whole number of steps per level, and the data stage takes what is left.
    """
    check_fractions(fractions)
    uniform_steps = round(fractions[0] * total_steps)
    if levels < 1:
        raise ValueError(f"levels={levels!r}: must be >= 1")
    if not 0 < beta_start < beta_end:
        raise ValueError(f"beta_start={beta_start!r}: must be > 0 and below beta_end={beta_end!r} "
                         "(β rises as the data cool)")
    per_level = int(fractions[1] * total_steps) // levels
    if per_level < 1:
        raise ValueError(f"levels={levels!r}: more levels than cooling steps "
                         f"({int(fractions[1] * total_steps)})")
    cooling = Geometric(beta_start, beta_end, levels, per_level, literal)
    parts = [Stage(Constant(0.0), uniform_steps, "uniform")] if uniform_steps else []
    parts += [Stage(cooling, cooling.total_steps, "anneal"),
              Stage(Constant(math.inf), None, "data")]
    return Stages(tuple(parts))


class Heat(Tempering):
    """Heated real data at the β of ``beta(step)``, kept in the box [low, high]^d.

    With ``coupled=True`` (β'-GAN) an offset δ of the noise scale is trained by the ``Coupling``
    player that ``players()`` returns.
    """

    level_attr = label = "beta"

    def __init__(self, beta: Level, low: float = -1.0, high: float = 1.0,
                 boundary: str = "reflect", coupled: bool = False, coupling_lr: float = 1e-3):
        if boundary not in BOUNDARIES:
            raise ValueError(f"boundary={boundary!r}: must be one of {', '.join(BOUNDARIES)}")
        if not high > low:
            raise ValueError(f"high={high!r}: must be > low={low!r}")
        super().__init__(beta)
        self.low, self.high, self.boundary = low, high, boundary
        self.register_buffer("offset", torch.zeros(()))  # β'-GAN's δ, in units of σ
        self._coupling = Coupling(self, coupling_lr) if coupled else None

    def level_key(self, step: int) -> Hashable:
        """(stage, level) in force at ``step``; for a β that is not a schedule of stages (a
        controller), whether the data are clean (β = ∞), so the EMA of G restarts there too."""
        if not isinstance(self.beta, Stages):
            return (0, math.isinf(self.beta(step)))
        stage = self.beta.stage(step)
        inner = self.beta.parts[stage].schedule
        local = step - self.beta.starts()[stage]
        return (stage, inner.level(local) if isinstance(inner, Geometric) else 0)

    def base_sigma(self) -> float:
        """The scheduled noise scale β^{-1/2}: inf at β = 0, 0 at β = ∞."""
        return math.inf if self.value == 0 else 1 / math.sqrt(self.value)

    def sigma(self) -> float:
        """The noise scale in force: β^{-1/2} (+ δ for β'-GAN, never below 0)."""
        base = self.base_sigma()
        return max(base + float(self.offset), 0.0) if self._coupling else base

    def heat(self, x: Tensor, sigma: float | Tensor,
             generator: torch.Generator | None = None) -> Tensor:
        """``x`` (B, ...) plus N(0, σ²) noise, folded into the box."""
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return heated(x, noise, sigma, self.low, self.high, self.boundary)

    def forward(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        sigma = self.sigma()
        if sigma == 0:
            return x
        if math.isinf(sigma):  # β = 0: the uniform distribution on the box
            u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
            return self.low + (self.high - self.low) * u
        return self.heat(x, sigma, generator)

    def describe(self) -> dict[str, float]:
        out = super().describe()
        if isinstance(self.beta, Stages):
            stage, level = self.level_key(self.at)
            out = {"stage": stage, "level": level, **out}
        if self._coupling:
            out["sigma"] = self.sigma()
        return out

    def players(self) -> list[Player]:
        return [self._coupling] if self._coupling else []

    @classmethod
    def for_run(cls, total_steps: int, data: ToyDataset | ImageData, beta_start: float = 0.1,
                beta_end: float = 10.0, cold_std: float | None = None, levels: int = 20,
                fractions: tuple[float, float, float] = (0.1, 0.7, 0.2), schedule: str = "both",
                boundary: str = "reflect", coupled: bool = False,
                coupling_lr: float = 1e-3, beta: float | dict[str, Any] | None = None) -> Heat:
        """The β-GAN tempering for a run of ``total_steps`` (config ``tempering: {kind: heat}``).

        The box comes from ``data.box``. ``cold_std`` (ours, off by default) derives the cold end
        from the data: β_K = 1 / (cold_std · σ_data)², the noise at the last level being
        ``cold_std`` times the finest std of the data; it replaces ``beta_end``. ``schedule``:
        ``both`` (both ends of the cooling trained) or ``paper`` (the literal Algorithm 1).
        ``beta`` (a number, a schedule or a controller) replaces the β-GAN schedule; an adaptive
        β (``{kind: adaptive}``) maps its heat onto log β from ``beta_end`` (or ``cold_std``'s) to
        ``beta_start`` unless it names its own ``cold`` and ``hot``, and, unless it names its own
        ``ceiling``, trains on the data (β = ∞) where the schedule's data stage would begin
        (the last ``fractions[2]`` of the run).
        """
        if data.box is None:
            raise ValueError("box=None: β-GAN heats data inside a box; set data.box, e.g. [-1, 1]")
        if schedule not in ("both", "paper"):
            raise ValueError(f"schedule={schedule!r}: must be 'both' or 'paper'")
        if not coupling_lr > 0:
            raise ValueError(f"coupling_lr={coupling_lr!r}: must be > 0")
        if cold_std is not None:
            if data.std is None:
                raise ValueError(f"cold_std={cold_std!r}: needs data with a known component std")
            if not cold_std > 0:
                raise ValueError(f"cold_std={cold_std!r}: must be > 0")
            beta_end = 1 / (cold_std * data.std) ** 2
        if beta is not None:  # an adaptive β: log β between the ends, then the data stage
            check_fractions(tuple(fractions))
            data_from = total_steps - round(fractions[2] * total_steps)
            level = level_source(beta, "tempering.beta", above=0.0, hot=beta_start, cold=beta_end,
                                 scale="log", ceiling=Hold(data_from, 0.0, math.inf))
            return cls(level, data.box[0], data.box[1], boundary, coupled, coupling_lr)
        beta = betagan_schedule(total_steps, beta_start, beta_end, levels, tuple(fractions),
                                literal=schedule == "paper")
        return cls(beta, data.box[0], data.box[1], boundary, coupled, coupling_lr)


class Coupling:
    """β'-GAN's player: one descent step of δ per training step on V's real term, D fixed.

    V's real term is −E[real_term(D(x_β))] (E[log D(x_β)] for the minimax loss); descending it
    in δ ascends D's loss on the heated data: the noise grows where D tells heated data from
    fake too easily. Noise comes from the player's own generator.
    """

    name = "coupling"

    def __init__(self, heat: Heat, lr: float = 1e-3) -> None:
        self.heat, self.lr = heat, lr

    def check(self, loss: AdversarialLoss) -> None:
        """Refuse a loss whose real term can be ascended in either direction (LSGAN)."""
        if not loss.monotone_real:
            raise ConfigError(f"objective.loss={loss.name!r}: β'-GAN's coupling ascends D's real "
                              "term, which this loss can ascend in either direction; use a "
                              "minimax, non-saturating, WGAN or hinge loss, or coupled=false")

    def update(self, d: DStep, discriminator: nn.Module, loss: AdversarialLoss,
               generator: torch.Generator | None = None) -> dict[str, Tensor]:
        heat, base = self.heat, self.heat.base_sigma()
        if math.isinf(base):  # β = 0, the uniform stage: no noise scale to move
            return {}
        delta = heat.offset.clone().requires_grad_(True)
        sigma = torch.clamp(base + delta, min=0.0)
        logits = discriminate(discriminator, heat.heat(d.real.x, sigma, generator), d.real.y)
        value = -loss.real_term(logits).mean()  # V's real term
        (grad,) = torch.autograd.grad(value, delta)
        with torch.no_grad():
            heat.offset.sub_(self.lr * grad)
        return {"sigma": torch.tensor(heat.sigma())}

    def state_dict(self) -> dict[str, Any]:
        return {}  # δ lives in the Heat's buffer, saved with the temperings

    def load_state_dict(self, state: dict[str, Any]) -> None:
        return None
