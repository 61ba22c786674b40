"""G terms: ``weight(step) × term`` added to G's loss (the contract is ``thermogan.step.GTerm``).

The registry maps a name to ``factory(data, **options) -> GTerm`` (the build also hands each
factory what it takes of the run's ``discriminator``, ``d_optimizer``, ``loss`` and
``temperings``); config ``regulariser`` is one or a list of ``{kind: NAME, weight: NUMBER,
SCHEDULE OR CONTROLLER, ...options}``. ``score``: variational annealing's score regulariser (Tao
et al. 2019, ``objectives/variational.py``); ``energy`` and ``reference``: the free energy's terms
for learning from an unnormalised density (``objectives/free_energy.py``); ``unrolled``: Unrolled
GAN's G loss against D after k steps of its optimizer (Metz et al. 2017,
``objectives/unrolled.py``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor, nn

from thermogan.data.batch import Batch
from thermogan.objectives.free_energy import EnergyTerm, ReferenceTerm
from thermogan.objectives.unrolled import Unrolled
from thermogan.objectives.variational import ScoreRegulariser
from thermogan.step import DStep, GTerm, Player

#: G-term registry: name -> factory(data, **options).
G_TERMS: dict[str, Callable[..., GTerm]] = {"score": ScoreRegulariser, "energy": EnergyTerm,
                                             "reference": ReferenceTerm, "unrolled": Unrolled}


@dataclass(frozen=True)
class WeightedTerm:
    """A G term and its weight (a schedule, or a controller such as an adaptive λ, which the
    trainer checkpoints and lets observe each D step); ``value(step, ...)`` is None while the
    weight is 0."""

    term: GTerm
    weight: Callable[[int], float]

    @property
    def name(self) -> str:
        return self.term.name

    def players(self) -> list[Player]:
        """The term's players (a learned score's denoiser), trained by the trainer."""
        return self.term.players()

    def value(self, step: int, fake: Batch, d: DStep,
              discriminator: nn.Module) -> tuple[float, Tensor] | None:
        """(weight, term) at ``step``, or None when the weight is 0 (the term is not computed)."""
        weight = float(self.weight(step))
        if weight == 0:
            return None
        return weight, self.term(fake, d, discriminator)
