"""The repository stands alone: no tracked file cites a file that is not in it (the authors'
private notes, a folder beside the checkout, a machine's own paths), and every relative link of
the README and docs/ reaches a file of the repository."""

import re
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

#: What points outside: notes that were never part of the repository, folders beside the checkout
#: (``shared/``, ``papers/``, any ``../``) and absolute paths of the machines it was written on.
#: This file names them, so it is the one file not searched.
OUTSIDE = re.compile("|".join([
    r"\bMETHODS\.md", r"\bDESIGN\.md", r"(?<![\w.-])shared/", r"(?<![\w.-])papers/", r"\.\./",
    r"/work/", r"/home/\w+/",
]))
LINK = re.compile(r"\]\(([^)#\s]+)(?:#[^)]*)?\)")


def tracked() -> list[Path]:
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        pytest.skip("not a git checkout: the tracked files are unknown")
    names = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True)
    return [ROOT / n for n in names.stdout.decode().split("\0") if n]


def text(path: Path) -> str | None:
    """The file's text, or None for a binary file (figures), a link to a folder (configs/) or a
    file deleted but still tracked."""
    if path.is_dir():
        return None
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return None
    return None if b"\0" in raw[:8192] else raw.decode("utf-8", errors="replace")


def test_no_tracked_file_cites_a_path_outside_the_repository():
    found = []
    for path in tracked():
        if path == Path(__file__).resolve():
            continue
        content = text(path)
        for i, line in enumerate((content or "").splitlines(), 1):
            found += [f"{path.relative_to(ROOT)}:{i}: {m[0]!r}" for m in OUTSIDE.finditer(line)]
    assert not found, "cites a path outside the repository:\n" + "\n".join(found)


def test_the_outside_pattern_catches_what_it_names():
    assert OUTSIDE.search("see METHODS.md §4") and OUTSIDE.search("(../shared/data)")
    assert OUTSIDE.search("papers/langevin-gan.md") and OUTSIDE.search("/work/main/x")
    assert not OUTSIDE.search("tmp_path / 'shared'") and not OUTSIDE.search("docs/design.md")
    assert not OUTSIDE.search("METHODS: dict[str, str]")  # a bench's table of methods


def _generated_pages() -> set[Path]:
    """The docs pages the site's build makes from the code (docs/hooks/reference.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("reference", ROOT / "docs/hooks/reference.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return {(ROOT / "docs" / name).resolve() for name in module.PAGES}


def test_links_of_the_readme_and_docs_reach_files_of_the_repository():
    pages = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
    generated = _generated_pages()
    broken = []
    for page in pages:
        for target in LINK.findall(page.read_text()):
            if re.match(r"[a-z]+:", target):  # https:, mailto:
                continue
            resolved = (page.parent / target.split("#")[0]).resolve()
            if resolved in generated:
                continue
            if not resolved.is_relative_to(ROOT) or not resolved.exists():
                broken.append(f"{page.relative_to(ROOT)}: {target}")
    assert not broken, "links that do not reach a file of the repository:\n" + "\n".join(broken)
