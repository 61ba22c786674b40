"""Every script of examples/ runs with a few steps (in this process: runpy, so torch is imported
once), prints its result, and stays a short read: a docstring saying what it shows, at most 60
lines, ``--steps`` to set its length. The README's loop is the one of examples/vanilla.py."""

import re
import runpy
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))
#: Steps each script runs here: enough for every stage of β-GAN (22, at least one step each)
STEPS = 40


def test_there_is_an_example_of_every_method():
    names = {path.stem for path in EXAMPLES}
    assert {"vanilla", "instance_noise", "betagan", "adaptive", "lens", "langevin",
            "coarse_graining", "variational"} <= names


@pytest.mark.parametrize("path", EXAMPLES, ids=[p.stem for p in EXAMPLES])
def test_the_example_runs_and_prints_its_result(path, monkeypatch, capsys):
    text = path.read_text()
    assert len(text.splitlines()) <= 60, f"{path.name} has grown past 60 lines"
    docstring = re.match(r'"""(.+?)"""', text, re.S)
    assert docstring and f"python examples/{path.name}" in docstring[1]  # says how to run it
    monkeypatch.setattr(sys, "argv", [str(path), "--steps", str(STEPS)])
    runpy.run_path(str(path), run_name="__main__")
    assert capsys.readouterr().out.strip()


def test_the_readme_loop_is_the_vanilla_example():
    """Each line of the README's Python block is a line of examples/vanilla.py, in order (the
    README counts its 3,000 steps where the script reads --steps)."""
    block = re.search(r"```python\n(.*?)```", (ROOT / "README.md").read_text(), re.S)[1]
    lines = iter((ROOT / "examples" / "vanilla.py").read_text().splitlines())
    for line in block.replace("range(3000)", "range(steps)").splitlines():
        assert line in lines, f"README line not in examples/vanilla.py (or out of order): {line}"
