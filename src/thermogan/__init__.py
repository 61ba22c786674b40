"""thermogan: stable GAN training by controlling the temperature of what the discriminator sees.

The public API re-exports the parts that are useful in one's own PyTorch loop: data that return
``Batch``es, the temperings (each with its contract in ``thermogan.tempering.base``), the losses'
per-example terms, the record of a D step and the players and G terms that read it, schedules,
controllers, optimizers, networks and metrics. The ``Trainer`` wires them all.
"""

from importlib.metadata import version

from thermogan.data import DATASETS
from thermogan.data.batch import Batch
from thermogan.data.toy import ToyDataset
from thermogan.metrics.modes import mode_coverage
from thermogan.nets import DISCRIMINATORS, GENERATORS
from thermogan.nets.mlp import mlp
from thermogan.objectives.adversarial import LOSSES, AdversarialLoss, d_loss, g_loss, get_loss
from thermogan.objectives.penalties import gradient_penalty, gradient_penalty_terms
from thermogan.objectives.terms import G_TERMS, WeightedTerm
from thermogan.optim import OPTIMIZERS
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
from thermogan.step import DStep, GTerm, Player, discriminate
from thermogan.tempering import (
    CONTROLLERS,
    TEMPERINGS,
    ConstantController,
    Controller,
    Heat,
    InstanceNoise,
    Lens,
    Tempering,
)
from thermogan.train.trainer import Trainer

__version__ = version("thermogan")  # pyproject.toml's, as installed

__all__ = [
    "CONTROLLERS", "DATASETS", "DISCRIMINATORS", "GENERATORS", "G_TERMS", "LOSSES", "OPTIMIZERS",
    "TEMPERINGS", "AdversarialLoss", "Batch", "Constant", "ConstantController", "Controller",
    "DStep", "DecayingTriangle", "ExponentialApproach", "GTerm", "Geometric", "Heat",
    "InstanceNoise", "Lens", "Linear", "LinearToZero", "Player", "SineDecay", "Stages",
    "Tempering", "ToyDataset", "Trainer", "WeightedTerm", "d_loss", "discriminate", "g_loss",
    "get_loss", "gradient_penalty", "gradient_penalty_terms", "mlp", "mode_coverage",
    "schedule_from_dict",
]
