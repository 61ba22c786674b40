"""G terms: ``weight(step) × term`` added to G's loss (the contract is ``thermogan.step.GTerm``).

Variational annealing's score regulariser (Chen et al. 2019) is the first term of this kind; it
arrives with issue [9]. The registry maps a name to ``factory(**options) -> GTerm``; config
``objective.g_terms`` lists ``{kind: NAME, weight: NUMBER_OR_SCHEDULE, ...options}``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from torch import Tensor, nn

from thermogan.data.batch import Batch
from thermogan.schedules import Schedule
from thermogan.step import DStep, GTerm

#: G-term registry (empty until [9] adds variational annealing's score term).
G_TERMS: dict[str, Callable[..., GTerm]] = {}


@dataclass(frozen=True)
class WeightedTerm:
    """A G term and its weight schedule; ``value(step, ...)`` is None while the weight is 0."""

    term: GTerm
    weight: Schedule

    @property
    def name(self) -> str:
        return self.term.name

    def value(self, step: int, fake: Batch, d: DStep,
              discriminator: nn.Module) -> tuple[float, Tensor] | None:
        """(weight, term) at ``step``, or None when the weight is 0 (the term is not computed)."""
        weight = float(self.weight(step))
        if weight == 0:
            return None
        return weight, self.term(fake, d, discriminator)
