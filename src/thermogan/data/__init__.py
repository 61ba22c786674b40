"""Data registry: every entry is ``factory(**options)`` returning a data source with ``sample``."""

from __future__ import annotations

from collections.abc import Callable

from thermogan.data.energy import DATASETS as ENERGY_DATASETS
from thermogan.data.images import IMAGE_DATASETS
from thermogan.data.toy import DATASETS as TOY_DATASETS

DATASETS: dict[str, Callable[..., object]] = {**TOY_DATASETS, **IMAGE_DATASETS,
                                              **ENERGY_DATASETS}
