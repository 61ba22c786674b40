"""What a command may write: never a run's own files, never a file thermogan did not write.

``thermogan report --html FILE``, ``report --out FILE`` and ``sample --out FILE`` write where the
user says. ``check_output`` refuses, before anything is computed:

- a file that belongs to a run (``config.yaml``, ``summary.json``, ``eval.json``,
  ``metrics.jsonl``, ``sweep.json``, TensorBoard events, anything in its ``checkpoints/`` or
  ``figures/``): replacing one would lose or corrupt the run, so not even ``--force`` allows it;
- an existing file that thermogan did not write (a PNG or HTML page carries thermogan's mark,
  ``report.figures.MARK``), unless the user gives ``--force``;
- a folder, or a path whose parent is a file.
"""

from __future__ import annotations

from pathlib import Path

from thermogan.errors import UsageError
from thermogan.experiment.layout import RUN_FILES, SWEEP
from thermogan.report.figures import MARK


def check_output(path: Path, force: bool = False, option: str = "--out") -> None:
    """Raise UsageError when writing ``path`` would replace what it must not (module doc)."""
    path = Path(path)
    if path.is_dir():
        raise UsageError(f"{option} {path}: a folder; name a file in it")
    blocking = file_parent(path)
    if blocking is not None:
        raise UsageError(f"{option} {path}: {blocking} is a file, not a folder")
    owner = run_owning(path)
    if owner is not None:
        raise UsageError(f"{option} {path}: belongs to the run in {owner}; thermogan never "
                         "replaces a run's own files (even with --force): choose another path")
    if path.exists() and not force and not written_by_thermogan(path):
        raise UsageError(f"{option} {path}: the file exists and thermogan did not write it; "
                         "choose another path, or give --force to replace it")


def file_parent(path: Path) -> Path | None:
    """The folder of ``path``'s that is a file (so nothing can be written below it), or None."""
    return next((parent for parent in Path(path).parents if parent.is_file()), None)


def is_run_dir(folder: Path) -> bool:
    """Whether ``folder`` holds a run: its config, and its log or checkpoints."""
    return (folder / "config.yaml").is_file() and (
        (folder / "metrics.jsonl").exists() or (folder / "checkpoints").is_dir())


def run_owning(path: Path) -> Path | None:
    """The run (or seed sweep) folder that ``path`` belongs to (module doc), or None."""
    path = Path(path).absolute()
    own = path.name in RUN_FILES or path.name.startswith("events.")
    if own and (is_run_dir(path.parent) or (path.parent / SWEEP).is_file()):
        return path.parent
    return next((folder for folder in path.parents[1:] if is_run_dir(folder)), None)


def written_by_thermogan(path: Path) -> bool:
    """Whether the file carries thermogan's mark: a PNG's Software text, an HTML page's
    generator meta tag."""
    head = path.read_bytes()[:4096]
    if head.startswith(b"\x89PNG"):
        from PIL import Image  # matplotlib's own dependency

        with Image.open(path) as image:
            return getattr(image, "text", {}).get("Software", "") == MARK
    return f'<meta name="generator" content="{MARK}">'.encode() in head
