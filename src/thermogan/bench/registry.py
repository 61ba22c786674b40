"""The benches of ``thermogan bench``: every module of this package that declares a ``BENCH``,
and every study file shipped in it (``modes.yaml``), by name. A new bench is one file here."""

from __future__ import annotations

import importlib
import pkgutil
from importlib import resources

from thermogan.bench import study
from thermogan.bench.engine import Bench


def benches() -> dict[str, Bench]:
    """Every bench, by name, in alphabetical order."""
    import thermogan.bench as package

    found: dict[str, Bench] = {}
    for info in pkgutil.iter_modules(package.__path__):
        declared = getattr(importlib.import_module(f"{package.__name__}.{info.name}"), "BENCH",
                           None)
        if isinstance(declared, Bench):
            found[declared.name] = declared
    for file in resources.files(package.__name__).iterdir():
        if file.name.endswith(".yaml"):
            name = file.name.removesuffix(".yaml")
            found[name] = study.bench(study.read(study.packaged(file.name)), name)
    return dict(sorted(found.items()))
