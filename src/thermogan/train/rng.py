"""Capture and restore every random number generator a run touches, in checkpoint-safe types.

The state holds only tensors, ints, floats, strings, tuples and None, so a checkpoint that contains
it loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch


def capture(generator: torch.Generator) -> dict[str, Any]:
    """States of ``generator``, torch's global CPU (and CUDA) generators, numpy's and Python's."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    return {
        "trainer": generator.get_state(),
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else [],
        "numpy": {"kind": kind, "keys": torch.from_numpy(keys.astype(np.int64)), "pos": int(pos),
                  "has_gauss": int(has_gauss), "cached": float(cached)},
        "python": random.getstate(),
    }


def restore(generator: torch.Generator, state: dict[str, Any]) -> None:
    """Put every generator back in the state that ``capture`` recorded."""
    generator.set_state(state["trainer"])
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    np_state = state["numpy"]
    np.random.set_state((np_state["kind"], np_state["keys"].numpy().astype(np.uint32),
                         np_state["pos"], np_state["has_gauss"], np_state["cached"]))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
