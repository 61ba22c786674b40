"""Data registry: every entry is ``factory(**options)`` returning a data source with ``sample``.

Every data class says how its runs are scored by its ``family`` (beside ``is_image``);
``FAMILIES`` reads it per registry name, without loading the data.
"""

from __future__ import annotations

from collections.abc import Callable

from thermogan.data.energy import DATASETS as ENERGY_DATASETS
from thermogan.data.energy import EnergyData
from thermogan.data.images import IMAGE_DATASETS, IMAGE_FAMILIES
from thermogan.data.toy import DATASETS as TOY_DATASETS
from thermogan.data.toy import ToyDataset

DATASETS: dict[str, Callable[..., object]] = {**TOY_DATASETS, **IMAGE_DATASETS,
                                              **ENERGY_DATASETS}
#: Registry name -> the family of the data it builds.
FAMILIES: dict[str, str] = {**dict.fromkeys(TOY_DATASETS, ToyDataset.family),
                            **dict.fromkeys(ENERGY_DATASETS, EnergyData.family),
                            **IMAGE_FAMILIES}
