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
reading of the paper's coupled system (its eq. 8 with the sign of METHODS.md §2), a variant to
study: it can settle on the wrong equilibrium.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from thermogan.data.images import ImageData
from thermogan.data.toy import ToyDataset
from thermogan.schedules import Constant, Geometric, Schedule, Stage, Stages
from thermogan.objectives.adversarial import AdversarialLoss
from thermogan.tempering.base import Tempering

BOUNDARIES = ("reflect", "clip", "none")


def reflect(x: Tensor, low: float, high: float) -> Tensor:
    """Fold ``x`` into [low, high] by mirror reflection at the walls (identity inside)."""
    width = high - low
    u = torch.remainder(x - low, 2 * width)  # in [0, 2·width)
    return low + torch.where(u > width, 2 * width - u, u)


def betagan_schedule(total_steps: int, beta_start: float = 0.1, beta_end: float = 10.0,
                     levels: int = 20, fractions: tuple[float, float, float] = (0.1, 0.7, 0.2),
                     literal: bool = False) -> Stages:
    """β over a run of ``total_steps``: uniform box, K geometric levels, then the data.

    ``fractions`` split the budget between the three stages; the cooling stage is rounded down to
    a whole number of steps per level, and the data stage takes what is left.
    """
    if len(fractions) != 3 or any(f < 0 for f in fractions) or abs(sum(fractions) - 1) > 1e-6:
        raise ValueError(f"fractions={list(fractions)!r}: three non-negative numbers summing to 1")
    uniform_steps = round(fractions[0] * total_steps)
    per_level = int(fractions[1] * total_steps) // levels
    if per_level < 1:
        raise ValueError(f"levels={levels!r}: more levels than cooling steps "
                         f"({int(fractions[1] * total_steps)})")
    cooling = Geometric(beta_start, beta_end, levels, per_level, literal)
    parts = [Stage(Constant(0.0), uniform_steps, "uniform")] if uniform_steps else []
    parts += [Stage(cooling, cooling.total_steps, "anneal"), Stage(Constant(math.inf), None, "data")]
    return Stages(tuple(parts))


class Heat(Tempering):
    """Heated real data at the β of ``beta(step)``, kept in the box [low, high]^d."""

    def __init__(self, beta: Schedule, low: float = -1.0, high: float = 1.0,
                 boundary: str = "reflect", coupled: bool = False, coupling_lr: float = 1e-3):
        super().__init__()
        if boundary not in BOUNDARIES:
            raise ValueError(f"boundary={boundary!r}: must be one of {', '.join(BOUNDARIES)}")
        if not high > low:
            raise ValueError(f"high={high!r}: must be > low={low!r}")
        self.beta, self.low, self.high, self.boundary = beta, low, high, boundary
        self.coupled, self.coupling_lr = coupled, coupling_lr
        self.register_buffer("offset", torch.zeros(()))  # β'-GAN's δ, in units of σ
        self._step, self._beta = 0, beta(0)

    def set_step(self, step: int) -> None:
        self._step, self._beta = step, self.beta(step)
        self.level.fill_(self._beta)

    def level_key(self, step: int) -> tuple[int, int]:
        """(stage, level) in force at ``step``: a snapshot is taken whenever it changes."""
        if not isinstance(self.beta, Stages):
            return (0, 0)
        stage = self.beta.stage(step)
        inner = self.beta.parts[stage].schedule
        local = step - self.beta.starts()[stage]
        return (stage, inner.level(local) if isinstance(inner, Geometric) else 0)

    def sigma(self) -> float:
        """The noise scale in force: β^{-1/2} (+ δ for β'-GAN); inf at β = 0, 0 at β = ∞."""
        base = math.inf if self._beta == 0 else 1 / math.sqrt(self._beta)
        return max(base + float(self.offset), 0.0) if self.coupled else base

    def _uniform(self, x: Tensor, generator: torch.Generator | None) -> Tensor:
        u = torch.rand(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return self.low + (self.high - self.low) * u

    def _fold(self, y: Tensor) -> Tensor:
        if self.boundary == "reflect":
            return reflect(y, self.low, self.high)
        if self.boundary == "clip":
            return y.clamp(self.low, self.high)
        return y

    def heat(self, x: Tensor, sigma: float | Tensor,
             generator: torch.Generator | None = None) -> Tensor:
        """``x`` (B, ...) plus N(0, σ²) noise, folded into the box."""
        noise = torch.randn(x.shape, generator=generator, device=x.device, dtype=x.dtype)
        return self._fold(x + sigma * noise)

    def forward(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        sigma = self.sigma()
        if sigma == 0:
            return x
        if math.isinf(sigma):
            return self._uniform(x, generator)
        return self.heat(x, sigma, generator)

    def update(self, real: Tensor, discriminator: nn.Module,
               adversarial: AdversarialLoss) -> dict[str, Tensor]:
        """β'-GAN: one descent step of δ on V's real term, −E[log D(x_β)] ascending (D fixed)."""
        if not self.coupled or self._beta == 0:
            return {}
        delta = self.offset.clone().requires_grad_(True)
        base = 1 / math.sqrt(self._beta)  # 0 on the data stage
        sigma = torch.clamp(base + delta, min=0.0)
        gen = torch.Generator(real.device).manual_seed(self._step)
        value = -F.softplus(-discriminator(self.heat(real, sigma, gen))).mean()  # E[log D(x_β)]
        (grad,) = torch.autograd.grad(value, delta)
        with torch.no_grad():
            self.offset.sub_(self.coupling_lr * grad)
        return {"sigma": torch.tensor(self.sigma())}

    def describe(self) -> dict[str, float]:
        stage, level = self.level_key(self._step)
        return {"stage": stage, "level": level, "beta": self._beta}


def heat(total_steps: int, data: ToyDataset | ImageData, beta_start: float = 0.1,
         beta_end: float = 10.0, cold_std: float | None = None, levels: int = 20,
         fractions: tuple[float, float, float] = (0.1, 0.7, 0.2), schedule: str = "both",
         boundary: str = "reflect", coupled: bool = False, coupling_lr: float = 1e-3) -> Heat:
    """The β-GAN tempering for a run of ``total_steps`` (config ``tempering: {kind: heat}``).

    The box comes from ``data.box``. ``cold_std`` (ours, off by default) derives the cold end from
    the data: β_K = 1 / (cold_std · σ_data)², the noise at the last level being ``cold_std`` times
    the finest std of the data; it replaces ``beta_end``. ``schedule``: ``both`` (both ends of
    the cooling trained) or ``paper`` (the literal Algorithm 1).
    """
    if data.box is None:
        raise ValueError("box=None: β-GAN heats data inside a box; set data.box, e.g. [-1, 1]")
    if schedule not in ("both", "paper"):
        raise ValueError(f"schedule={schedule!r}: must be 'both' or 'paper'")
    if cold_std is not None:
        if data.std is None:
            raise ValueError(f"cold_std={cold_std!r}: needs data with a known component std")
        if not cold_std > 0:
            raise ValueError(f"cold_std={cold_std!r}: must be > 0")
        beta_end = 1 / (cold_std * data.std) ** 2
    for name, value in (("beta_start", beta_start), ("beta_end", beta_end)):
        if not value > 0:
            raise ValueError(f"{name}={value!r}: must be > 0")
    beta = betagan_schedule(total_steps, beta_start, beta_end, levels, tuple(fractions),
                            literal=schedule == "paper")
    return Heat(beta, data.box[0], data.box[1], boundary, coupled, coupling_lr)
