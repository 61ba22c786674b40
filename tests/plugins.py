"""Test-only parts for the seams: a G term and a controller that reads the D record.

Importing this module registers them (``G_TERMS["pull"]``, ``CONTROLLERS["sign_tracker"]``), so a
training subprocess can use them from a config: ``python -c "import plugins; ..."``.
"""

import torch

from thermogan.objectives.terms import G_TERMS
from thermogan.tempering.control import CONTROLLERS, Controller


class Pull:
    """A G term: the mean squared norm of the generated samples (pulls them towards 0)."""

    name = "pull"
    weight_minimum = 0.0  # a negative weight would push the samples away without end

    def __init__(self, data=None, power: float = 2.0):
        self.power = power

    def players(self):
        return []

    def __call__(self, fake, d, discriminator):
        return fake.x.abs().pow(self.power).sum(1).mean()


class SignTracker(Controller):
    """A level that follows E[sign D(real)] (as adaptive augmentation does), kept in [0, 1]."""

    def __init__(self, rate: float = 0.05, target: float = 0.6, start: float = 0.1):
        super().__init__()
        self.rate, self.target = rate, target
        self.register_buffer("value", torch.tensor(start, dtype=torch.float64))
        self.register_buffer("seen", torch.zeros((), dtype=torch.int64))

    def forward(self, step):
        return float(self.value)

    def observe(self, d):
        signal = float(torch.sign(d.real_logits).mean())
        self.value.add_(self.rate * (signal - self.target)).clamp_(0.0, 1.0)
        self.seen.add_(1)

    def bounds(self):
        return 0.0, 1.0


G_TERMS["pull"] = Pull
CONTROLLERS["sign_tracker"] = SignTracker
