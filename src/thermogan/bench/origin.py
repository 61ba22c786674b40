"""Which code trained a bench's runs.

A bench reuses the finished runs it finds in its ``--out`` folder (so an interrupted bench picks up
where it stopped), whatever code trained them. Its table is only a measurement of the code at hand
when that code trained every run, so each bench counts the runs by the code that trained them
(``trained_by``: the thermogan version and git commit in each run's summary.json provenance),
records the counts in results.json, and says in its header how many runs other code trained
(``note``).
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from thermogan.provenance import provenance

UNKNOWN = "unknown code"


def label(provenance: dict[str, Any] | None) -> str:
    """``thermogan 0.1.0 at <commit, 12 digits>`` (the version alone outside a git checkout)."""
    if not provenance:
        return UNKNOWN
    commit = provenance.get("git_commit")
    version = f"thermogan {provenance.get('thermogan', '?')}"
    return f"{version} at {commit[:12]}" if commit else version


def this_code() -> str:
    """The label of the code running now."""
    return label(provenance("cpu"))


def trained_by(run_dirs: Iterable[Path]) -> dict[str, int]:
    """How many of the finished runs each version of the code trained, most first."""
    counts: Counter[str] = Counter()
    for run_dir in run_dirs:
        path = Path(run_dir) / "summary.json"
        if path.exists():
            counts[label(json.loads(path.read_text()).get("provenance"))] += 1
    return dict(counts.most_common())


def note(counts: dict[str, int]) -> str:
    """A sentence for a bench's header when other code than this trained some of the runs
    (``counts`` from ``trained_by``); empty when this code trained them all."""
    here = this_code()
    other = {code: n for code, n in counts.items() if code != here}
    if not other:
        return ""
    listed = "; ".join(f"{code}: {n}" for code, n in other.items())
    return (f" {sum(other.values())} of {sum(counts.values())} runs were reused from other code "
            f"than this ({here}): {listed}; move them away, or give another --out, to measure "
            "this code.")
