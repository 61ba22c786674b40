"""The Python loops of the README and of docs/loops.md run as written (with fewer steps)."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", "docs/loops.md"]
BLOCKS = [(page, i, code) for page in PAGES
          for i, code in enumerate(re.findall(r"```python\n(.*?)```", (ROOT / page).read_text(),
                                              re.S))]


def test_the_pages_have_the_plain_heat_lens_langevin_and_score_loops():
    loops = [code for page, _, code in BLOCKS if page == "docs/loops.md"]
    assert len(loops) >= 5 and any(p == "README.md" for p, _, _ in BLOCKS)
    assert any("Heat" in b for b in loops) and any("Lens" in b for b in loops)
    assert any("SGLD" in b and "Recorder" in b for b in loops)
    assert any("ScoreRegulariser" in b for b in loops)


@pytest.mark.parametrize(("page", "i", "code"), BLOCKS, ids=[f"{p}:{i}" for p, i, _ in BLOCKS])
def test_example_runs(page, i, code, capsys):
    code = re.sub(r"range\(3000\)|steps = \d+", lambda m: "range(40)" if "range" in m[0]
                  else "steps = 40", code)
    exec(compile(code, f"{page} block {i}", "exec"), {})
    assert capsys.readouterr().out.strip()  # each example prints its result
