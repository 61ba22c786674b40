"""thermogan: stable GAN training by controlling the temperature of what the discriminator sees.

The public API re-exports the parts that are useful in one's own PyTorch loop.
"""

from thermogan.data.toy import DATASETS, ToyDataset
from thermogan.metrics.modes import mode_coverage
from thermogan.nets.mlp import mlp
from thermogan.objectives.adversarial import LOSSES, d_loss, g_loss
from thermogan.objectives.penalties import gradient_penalty
from thermogan.schedules import (
    Constant,
    DecayingTriangle,
    ExponentialApproach,
    Geometric,
    Linear,
    LinearToZero,
    SineDecay,
    Stages,
    schedule_from_dict,
)
from thermogan.tempering.base import Tempering
from thermogan.train.trainer import Trainer

__version__ = "0.1.0"

__all__ = [
    "DATASETS", "LOSSES", "Constant", "DecayingTriangle", "ExponentialApproach", "Geometric",
    "Linear", "LinearToZero", "SineDecay", "Stages", "Tempering", "ToyDataset", "Trainer",
    "d_loss", "g_loss", "gradient_penalty", "mlp", "mode_coverage", "schedule_from_dict",
]
