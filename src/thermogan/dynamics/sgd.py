"""The discrete view of tiny-GAN: the same system trained by the library's real Trainer with SGD.

A one-parameter generator (G(z) = θ), a linear discriminator without bias (D(x) = wx) and Dirac
data whose location follows the annealing schedule α(t) at t = step·η (a tempering that moves the
data). With the usual sign convention (real high) the paper's ψ is −w. f(y) = y is the WGAN loss,
f(y) = −log(1 + e^{−y}) the minimax loss. As η → 0 the iterates follow the ODE of
``dynamics/tinygan.py``; alternating SGD is a first-order method, so the error shrinks like η.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor, nn

from thermogan.data.batch import Batch
from thermogan.schedules import ExponentialApproach
from thermogan.tempering.base import Tempering
from thermogan.train.trainer import Trainer

LOSS_OF = {"linear": "wgan", "js": "minimax"}


class DiracGenerator(nn.Module):
    """G(z) = θ for every z: the generator of tiny-GAN."""

    def __init__(self, theta: float):
        super().__init__()
        self.theta = nn.Parameter(torch.tensor([theta], dtype=torch.float64))

    def forward(self, z: Tensor) -> Tensor:
        return self.theta.expand(len(z), 1)  # (B, 1)


class MovingDirac(Tempering):
    """Real data at α(step): whatever the data, D sees the point α of the annealing schedule."""

    def __init__(self, alpha: ExponentialApproach):
        super().__init__()
        self.alpha = alpha

    def set_step(self, step: int) -> None:
        self.level.fill_(self.alpha(step))

    def forward(self, x: Tensor, *, generator: torch.Generator | None = None) -> Tensor:
        return torch.full_like(x, float(self.level))


class Origin:
    """Data source of zeros, shape (n, 1); MovingDirac puts them where they belong."""

    def sample(self, n: int, generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> Batch:
        return Batch(torch.zeros(n, 1, dtype=torch.float64, device=device))


def sgd_trajectory(eta: float, t_end: float, T: float = 3.0, alpha_0: float = 1.0,
                   alpha_r: float = 3.0, theta_0: float = 1.0, psi_0: float = 0.0,
                   f: str = "linear") -> tuple[np.ndarray, np.ndarray]:
    """Times (n,) and states (n, 3) = (θ, ψ, α) of SGD with learning rate ``eta`` up to t_end."""
    if f not in LOSS_OF:
        raise ValueError(f"f={f!r}: the trainer's view supports {', '.join(LOSS_OF)}")
    G = DiracGenerator(theta_0)
    D = nn.Linear(1, 1, bias=False).double()
    with torch.no_grad():
        D.weight.fill_(-psi_0)
    alpha = ExponentialApproach(alpha_0, alpha_r, T, dt=eta)
    trainer = Trainer(G, D, Origin(), z_dim=1, loss=LOSS_OF[f],
                      g_optimizer=torch.optim.SGD(G.parameters(), lr=eta),
                      d_optimizer=torch.optim.SGD(D.parameters(), lr=eta), batch_size=1,
                      temperings=MovingDirac(alpha))
    steps = int(round(t_end / eta))
    states = np.empty((steps + 1, 3))
    states[0] = (theta_0, psi_0, alpha_0)
    for k in range(1, steps + 1):
        trainer.train_step()
        states[k] = (G.theta.item(), -D.weight.item(), alpha(k))
    return eta * np.arange(steps + 1), states
