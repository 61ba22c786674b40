"""Provenance: which software, on which machine, produced a file of a run.

Every ``summary.json``, ``eval.json`` (under the top-level key ``provenance``) and checkpoint (its
``provenance`` entry) records ``provenance(device)``::

    {"thermogan": "0.1.0", "torch": "2.4.1", "numpy": "2.1.0", "python": "3.12.3",
     "git_commit": "3f2c...", "git_dirty": False, "device": "cuda:0", "threads": 8}

``git_commit`` and ``git_dirty`` describe the git checkout that holds the imported package's
source (an editable install or a run from the repository); both are None for an installed package
(the source is not tracked by a repository), without git, or when git fails. ``git_dirty`` is True
when tracked files differ from the commit (untracked files are ignored). Only plain types are used,
so a checkpoint holding the record still loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import functools
import platform
import subprocess
from importlib.metadata import version
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch

#: The folder of the imported package; git is asked about the checkout holding it, if any.
PACKAGE_DIR = Path(__file__).resolve().parent

#: Seconds each git command may take before the commit is recorded as unknown.
GIT_TIMEOUT_S = 5.0


def provenance(device: str | torch.device) -> dict[str, Any]:
    """The versions, git commit, device and thread count of this process (see the module doc)."""
    import numpy as np
    import torch  # here, not above: the command line starts without it

    commit, dirty = git_state(PACKAGE_DIR)
    return {"thermogan": version("thermogan"),
            "torch": str(torch.__version__),  # a str subclass that weights_only refuses
            "numpy": str(np.__version__), "python": platform.python_version(),
            "git_commit": commit, "git_dirty": dirty, "device": str(device),
            "threads": torch.get_num_threads()}


@functools.lru_cache(maxsize=None)
def git_state(folder: Path) -> tuple[str | None, bool | None]:
    """(commit, dirty) of the git checkout in which ``folder``'s ``__init__.py`` is tracked;
    (None, None) otherwise or when git fails. Cached: a process's source does not change."""
    if _git(folder, "ls-files", "--", "__init__.py") in (None, ""):  # not tracked: installed
        return None, None
    commit = _git(folder, "rev-parse", "--verify", "HEAD")
    status = _git(folder, "status", "--porcelain", "--untracked-files=no")
    if commit is None:
        return None, None
    return commit, None if status is None else bool(status)


def _git(folder: Path, *args: str) -> str | None:
    """The stripped output of ``git <args>`` run in ``folder``; None on any failure."""
    try:
        done = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True,
                              stdin=subprocess.DEVNULL, timeout=GIT_TIMEOUT_S, check=False)
    except (OSError, subprocess.SubprocessError, ValueError):
        return None
    return done.stdout.strip() if done.returncode == 0 else None
