"""The README's Python examples run as written (with fewer steps)."""

import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
BLOCKS = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)


def test_the_readme_has_the_plain_heat_lens_and_langevin_loops():
    assert len(BLOCKS) >= 4
    assert any("Heat" in b for b in BLOCKS) and any("Lens" in b for b in BLOCKS)
    assert any("SGLD" in b and "Recorder" in b for b in BLOCKS)


@pytest.mark.parametrize("i", range(len(BLOCKS)))
def test_readme_example_runs(i, capsys):
    code = re.sub(r"range\(3000\)|steps = \d+", lambda m: "range(40)" if "range" in m[0]
                  else "steps = 40", BLOCKS[i])
    exec(compile(code, f"README.md block {i}", "exec"), {})
    assert capsys.readouterr().out.strip()  # each example prints its result
