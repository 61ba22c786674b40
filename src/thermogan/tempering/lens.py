"""The lens of Tempered Adversarial Networks (Sajjadi et al. 2018): a learned tempering of the
real data, with its own parameters and optimizer.

D sees ``{L(X), G(Z)}``. The lens minimises ``λ(t)·L_adv + ‖X − L(X)‖²`` (squared error summed
over each sample's entries, averaged over the batch, as METHODS.md §3 reads the paper; ``recon:
mean`` averages over the entries instead, which makes the reconstruction term as many times
weaker as a sample has entries), where ``L_adv`` is the negated discriminator loss on the lensed
real batch, per GAN variant (METHODS.md §3):

- GAN (minimax, non-saturating): ``−log(1 − D(L(X)))``, i.e. softplus of D's logit;
- LSGAN: ``D(L(X))²``;  WGAN, WGAN-GP and hinge critics: ``D(L(X))``.

So early on (λ ≈ 1) the lens moves the data towards what D takes for fake, and as λ(t) decays to 0
(``1 − sin(tπ/2K)`` by default) it must become the identity. Update order in the trainer: D on
(L(x) detached, G(z) detached), then the lens with D fixed, then G. L(x) is computed once per
step: the D step's forward pass is kept and reused by the lens step.

Networks: for images, fully convolutional: a 3×3 convolution to ``width`` channels, ``blocks``
residual blocks of two 3×3 stride-1 convolutions, a 3×3 convolution back, plus a skip from input
to output; for vectors, the same with linear layers. The last layer starts at zero, so the lens
is exactly the identity at step 0.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from thermogan.errors import ConfigError
from thermogan.objectives.adversarial import AdversarialLoss
from thermogan.schedules import Schedule, schedule_from_dict
from thermogan.tempering.base import Tempering

#: How the squared error of one sample is reduced over its entries.
RECONSTRUCTIONS = ("sum", "mean")

#: L_adv per adversarial loss, from D's logits on the lensed real batch.
ADVERSARIAL_TERMS: dict[str, Callable[[Tensor], Tensor]] = {
    "minimax": lambda h: F.softplus(h).mean(),
    "nonsaturating": lambda h: F.softplus(h).mean(),
    "lsgan": lambda h: (h**2).mean(),
    "wgan": lambda h: h.mean(),
    "wgan-gp": lambda h: h.mean(),
    "hinge": lambda h: h.mean(),
}


class _Residual(nn.Module):
    def __init__(self, make: Callable[[], nn.Module]) -> None:
        super().__init__()
        self.a, self.b = make(), make()

    def forward(self, x: Tensor) -> Tensor:
        return x + self.b(F.relu(self.a(F.relu(x))))


class LensNet(nn.Module):
    """``x + body(x)``: residual blocks of 3×3 convolutions (images) or linear layers (vectors)."""

    def __init__(self, shape: tuple[int, ...], width: int, blocks: int) -> None:
        super().__init__()
        if len(shape) == 3:
            def layer(i: int, o: int) -> nn.Module:
                return nn.Conv2d(i, o, 3, padding=1)
            channels = shape[0]
        elif len(shape) == 1:
            def layer(i: int, o: int) -> nn.Module:
                return nn.Linear(i, o)
            channels = shape[0]
        else:
            raise ValueError(f"a lens needs vectors (d,) or images (C, H, W), not {shape}")
        self.inp = layer(channels, width)
        self.blocks = nn.Sequential(*(_Residual(lambda: layer(width, width))
                                      for _ in range(blocks)))
        self.out = layer(width, channels)
        nn.init.zeros_(self.out.weight)
        nn.init.zeros_(self.out.bias)

    def forward(self, x: Tensor) -> Tensor:
        return x + self.out(F.relu(self.blocks(self.inp(x))))


class Lens(Tempering):
    """A learned tempering of the real batch; ``weight`` is the schedule λ(t)."""

    def __init__(self, net: LensNet, weight: Schedule, lr: float = 1e-4,
                 betas: tuple[float, float] = (0.5, 0.999), recon: str = "sum") -> None:
        super().__init__()
        if recon not in RECONSTRUCTIONS:
            raise ValueError(f"recon={recon!r}: expected {' or '.join(RECONSTRUCTIONS)}")
        self.net, self.weight, self.recon = net, weight, recon
        self.optimizer = torch.optim.Adam(self.net.parameters(), lr, betas=betas)
        self._lambda = weight(0)
        self._cache: tuple[Tensor, Tensor] | None = None

    def set_step(self, step: int) -> None:
        self._lambda = self.weight(step)
        self.level.fill_(self._lambda)

    def forward(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        out = self.net(x)
        if torch.is_grad_enabled():  # the D step: keep L(x) for the lens step
            self._cache = (x, out)
        return out

    def loss(self, real: Tensor, lensed: Tensor, discriminator: nn.Module,
             adversarial: AdversarialLoss) -> tuple[Tensor, Tensor, Tensor]:
        """(total, L_adv, reconstruction) of the lens on one batch."""
        if adversarial.name not in ADVERSARIAL_TERMS:
            raise ConfigError(f"objective.loss={adversarial.name!r}: the lens supports "
                              f"{', '.join(ADVERSARIAL_TERMS)}")
        adv = ADVERSARIAL_TERMS[adversarial.name](discriminator(lensed))
        squared = ((real - lensed) ** 2).flatten(1)  # (B, entries)
        recon = (squared.sum(1) if self.recon == "sum" else squared.mean(1)).mean()
        return self._lambda * adv + recon, adv, recon

    def update(self, real: Tensor, discriminator: nn.Module,
               adversarial: AdversarialLoss) -> dict[str, Tensor]:
        """One Adam step of the lens with D fixed, on the L(x) of this step's D step."""
        if self._cache is not None and self._cache[0] is real:
            lensed = self._cache[1]
        else:  # D saw this batch without a graph (no_grad): compute L(x) once here
            lensed = self.net(real)
        self._cache = None
        discriminator.requires_grad_(False)
        total, adv, recon = self.loss(real, lensed, discriminator, adversarial)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        self.optimizer.step()
        discriminator.requires_grad_(True)
        return {"lens_adv": adv.detach(), "lens_recon": recon.detach()}

    def describe(self) -> dict[str, float]:
        return {"lambda": self._lambda}

    def get_extra_state(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict()}

    def set_extra_state(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])


def lens(total_steps: int, data: Any, width: int = 16, blocks: int = 8, lr: float = 1e-4,
         betas: tuple[float, float] = (0.5, 0.999),
         weight: float | dict[str, Any] | None = None, recon: str = "sum") -> Lens:
    """The lens tempering (config ``tempering: {kind: lens}``).

    ``weight`` is λ(t): a number (fixed λ, e.g. 1 for the paper's Fig. 4) or a schedule; default
    ``{kind: sine_decay, horizon: 10000}`` (the paper gives K = 10⁴ and 10⁵; METHODS.md §3).
    ``width`` is the lens's channels (images) or units (vectors). ``recon`` reduces each
    sample's squared error by ``sum`` (METHODS.md §3) or ``mean`` over its entries.
    """
    if width < 1 or blocks < 0:
        raise ValueError(f"width={width}, blocks={blocks}: need width >= 1 and blocks >= 0")
    spec = weight if weight is not None else {"kind": "sine_decay", "horizon": 10000}
    schedule = schedule_from_dict(spec, "tempering.weight")
    return Lens(LensNet(tuple(data.shape), width, blocks), schedule, lr, betas, recon)
