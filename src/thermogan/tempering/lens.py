"""The lens of Tempered Adversarial Networks (Sajjadi et al. 2018): a learned tempering of the
real data, with its own parameters and optimizer.

D sees ``{L(X), G(Z)}``. The lens minimises ``λ(t)·L_adv + ‖X − L(X)‖²`` (squared error summed
over each sample's entries, averaged over the batch: the paper's norm read literally; ``recon:
mean`` averages over the entries instead, which makes the reconstruction term as many times
weaker as a sample has entries), where ``L_adv`` is the configured loss's fake term on the lensed
real batch (``AdversarialLoss.fake_term``: D's loss were L(X) labelled fake), so the lens moves
the data towards what D calls fake. Per GAN variant (the paper's §2 and App. A.1):

- GAN (minimax, non-saturating): ``−log(1 − D(L(X)))``, i.e. softplus of D's logit, as the paper;
- WGAN, WGAN-GP: ``D(L(X))``, as the paper;
- LSGAN: ``½D(L(X))²``: half the paper's ``D(L(X))²`` (LSGAN's fake term carries the ½ of Mao
  et al.), which is the paper's lens with λ halved;
- hinge: ``relu(1 + D(L(X)))``; rkl: ``−D(L(X))`` (the paper has neither).

So early on (λ ≈ 1) the lens moves the data towards what D takes for fake, and as λ(t) decays to 0
(``1 − sin(tπ/2K)`` by default) it must become the identity. Update order in the trainer: D on
(L(x) detached, G(z) detached), then the lens with D fixed (its player, ``LensPlayer``), then G.
L(x) is computed once per step: the lens keeps the graph of its last forward pass made with
gradients enabled and its player reuses it.

In a loop of one's own::

    seen = lens(x)                                    # keeps L(x) and its graph
    d_loss = loss.d(D(seen.detach()), D(fake.detach()))
    ...                                               # D's step
    (player,) = lens.players()
    player.update(DStep(real=Batch(x), ...), D, loss)  # the lens's step, D untouched

If D's loss did backpropagate through the lens (``D(lens(x))`` without ``detach``), that graph
is gone; the player notices (the lens's parameters hold gradients) and computes L(x) again.

Networks: for images, fully convolutional: a 3×3 convolution to ``width`` channels, ``blocks``
residual blocks of two 3×3 stride-1 convolutions, a 3×3 convolution back, plus a skip from input
to output; for vectors, the same with linear layers. The last layer starts at zero, so the lens
is exactly the identity at step 0.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from thermogan.objectives.adversarial import AdversarialLoss
from thermogan.optim import adam
from thermogan.schedules import Hold
from thermogan.step import DStep, Player, discriminate
from thermogan.tempering.base import Tempering
from thermogan.tempering.control import Level, level_source

#: How the squared error of one sample is reduced over its entries.
RECONSTRUCTIONS = ("sum", "mean")


def reconstruction(x: Tensor, lensed: Tensor, reduce: str = "sum") -> Tensor:
    """‖x − L(x)‖² of each sample (B,), summed (or averaged) over its entries."""
    squared = ((x - lensed) ** 2).flatten(1)  # (B, entries)
    return squared.sum(1) if reduce == "sum" else squared.mean(1)


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
    """A learned tempering of the real batch; ``weight`` is λ(t) (a schedule or a controller).

    The lens's parameters are trained by its player (``players()``), with its own Adam.
    """

    level_attr, label = "weight", "lambda"

    def __init__(self, net: LensNet, weight: Level, lr: float = 1e-4,
                 betas: tuple[float, float] = (0.5, 0.999), recon: str = "sum") -> None:
        if recon not in RECONSTRUCTIONS:
            raise ValueError(f"recon={recon!r}: expected {' or '.join(RECONSTRUCTIONS)}")
        super().__init__(weight)
        self.net, self.recon = net, recon
        self._player = LensPlayer(self, adam(net.parameters(), lr, betas))
        self._kept: tuple[Tensor, Tensor] | None = None

    def forward(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        out = self.net(x)
        if torch.is_grad_enabled():  # the D step: keep L(x) and its graph for the lens step
            self._kept = (x, out)
        return out

    def take(self, fallback: Tensor) -> tuple[Tensor, Tensor]:
        """(x, L(x)) of the last forward pass with gradients, if its graph is still whole; else
        (``fallback``, L(fallback)) computed now. The kept pass is used once."""
        kept, self._kept = self._kept, None
        freed = any(p.grad is not None for p in self.net.parameters())  # D backpropagated here
        if kept is None or freed:
            x = kept[0] if kept is not None else fallback
            return x, self.net(x)
        return kept

    def loss(self, real: Tensor, lensed: Tensor, discriminator: nn.Module,
             adversarial: AdversarialLoss,
             labels: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor]:
        """(total, L_adv, reconstruction) of the lens on one batch."""
        adv = adversarial.fake_term(discriminate(discriminator, lensed, labels)).mean()
        recon = reconstruction(real, lensed, self.recon).mean()
        return self.value * adv + recon, adv, recon

    def players(self) -> list[Player]:
        return [self._player]

    @classmethod
    def for_run(cls, total_steps: int, data: Any, width: int = 16, blocks: int = 8,
                lr: float = 1e-4, betas: tuple[float, float] = (0.5, 0.999),
                weight: float | dict[str, Any] | None = None, recon: str = "sum") -> Lens:
        """The lens tempering (config ``tempering: {kind: lens}``).

        ``weight`` is λ(t): a number (fixed λ, e.g. 1 for the paper's Fig. 4), a schedule or a
        controller; default ``{kind: sine_decay, horizon: 10000}`` (the paper gives K = 10⁴ and
        10⁵ in different places; docs/lens.md); an adaptive λ (``{kind: adaptive}``) runs between 0
        and 1 and, unless it names its own ceiling, is 0 from where that default reaches 0
        (10,000 steps). ``width`` is the lens's channels (images) or units (vectors). ``recon``
        reduces each sample's squared error by ``sum`` (the paper's) or ``mean`` over its entries.
        """
        if width < 1 or blocks < 0:
            raise ValueError(f"width={width}, blocks={blocks}: need width >= 1 and blocks >= 0")
        default = {"kind": "sine_decay", "horizon": 10000}
        level = level_source(weight if weight is not None else default, "tempering.weight",
                             minimum=0.0, hot=1.0, cold=0.0,
                             ceiling=Hold(default["horizon"], math.inf, 0.0))
        return cls(LensNet(tuple(data.shape), width, blocks), level, lr, betas, recon)


class LensPlayer:
    """The lens's step: one Adam step on ``λ(t)·L_adv + recon`` with D fixed.

    Only the lens's parameters receive gradients (D's are neither changed nor touched).
    """

    name = "lens"

    def __init__(self, lens: Lens, optimizer: torch.optim.Optimizer) -> None:
        self.lens, self.optimizer = lens, optimizer
        self.params = list(lens.net.parameters())

    def check(self, loss: AdversarialLoss) -> None:
        return None  # every loss has a fake term

    def update(self, d: DStep, discriminator: nn.Module, loss: AdversarialLoss,
               generator: torch.Generator | None = None) -> dict[str, Tensor]:
        x, lensed = self.lens.take(d.real.x)
        total, adv, recon = self.lens.loss(x, lensed, discriminator, loss, d.real.y)
        self.optimizer.zero_grad(set_to_none=True)
        total.backward(inputs=self.params)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        return {"lens_adv": adv.detach(), "lens_recon": recon.detach()}

    def state_dict(self) -> dict[str, Any]:
        return {"optimizer": self.optimizer.state_dict()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
