"""Seeded random streams, one per consumer, and their capture and restore in checkpoints.

Each consumer of randomness (the data, the latents, the gradient penalty, each tempering, each
player) draws from its own ``torch.Generator``, seeded from the run seed and the consumer's name
(``derive``), so adding a consumer never shifts another's draws, and no stream is seeded from the
step. The captured state holds only tensors, ints, floats, strings, tuples and None, so a
checkpoint that contains it loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import random
import zlib
from typing import Any

import numpy as np
import torch


def derive(seed: int, name: str) -> int:
    """A 63-bit seed for the consumer ``name`` of a run seeded ``seed`` (numpy's SeedSequence
    of the pair: well mixed, stable across versions and platforms)."""
    sequence = np.random.SeedSequence([seed & 0xFFFFFFFFFFFFFFFF, zlib.crc32(name.encode())])
    return int(sequence.generate_state(1, np.uint64)[0] >> np.uint64(1))


def streams(seed: int, names: list[str], device: torch.device) -> dict[str, torch.Generator]:
    """One generator on ``device`` per consumer name, each seeded by ``derive(seed, name)``."""
    return {name: torch.Generator(device).manual_seed(derive(seed, name)) for name in names}


def capture(generators: dict[str, torch.Generator]) -> dict[str, Any]:
    """States of ``generators``, torch's global CPU (and CUDA) generators, numpy's and Python's."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "streams": {name: gen.get_state() for name, gen in generators.items()},
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": random.getstate(),
    }


def restore(generators: dict[str, torch.Generator], state: dict[str, Any]) -> None:
    """Put every generator back in the state that ``capture`` recorded (a stream captured on
    another device type, whose state has another size, is left as seeded)."""
    missing = sorted(set(generators) - set(state["streams"]))
    if missing:
        raise KeyError(f"random streams {', '.join(missing)}")
    for name, gen in generators.items():
        saved = state["streams"][name]
        if saved.numel() == gen.get_state().numel():
            gen.set_state(saved)
        # else: saved on another device type (a CUDA run opened on the CPU): the stream keeps
        # its fresh seeding, so evaluation works and a resumed run continues, but not exactly
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    np_state = state["numpy"]
    np.random.set_state((np_state["kind"], np_state["keys"].numpy().astype(np.uint32),
                         np_state["pos"], np_state["has_gauss"], np_state["cached"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
