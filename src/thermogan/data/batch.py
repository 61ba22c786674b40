"""A batch of samples with their labels: what every data source's ``sample`` returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import torch
from torch import Tensor


@dataclass(frozen=True)
class Batch:
    """Samples ``x`` (B, ...) and their int64 labels ``y`` (B,), or None for unlabelled data.

    Labels are the class of a sample: an MNIST digit, a Stacked MNIST triple (0–999), a CIFAR-10
    class, the component of a toy mixture. A generated batch carries the labels G was given.
    """

    x: Tensor  # (B, ...)
    y: Tensor | None = None  # (B,) int64

    def __post_init__(self) -> None:
        if self.y is not None and self.y.shape != self.x.shape[:1]:
            raise ValueError(f"labels of shape {tuple(self.y.shape)} for samples of shape "
                             f"{tuple(self.x.shape)}: expected ({self.x.shape[0]},)")

    def __len__(self) -> int:
        return self.x.shape[0]

    def to(self, device: torch.device | str) -> Batch:
        """The same batch on ``device``."""
        return Batch(self.x.to(device), None if self.y is None else self.y.to(device))


class DataSource(Protocol):
    """Anything that draws a ``Batch`` of real samples with a given torch.Generator."""

    def sample(self, n: int, generator: torch.Generator | None = None,
               device: torch.device | str | None = None) -> Batch: ...
