"""The one JSON writer: non-finite numbers at any depth, numpy and torch values, atomic files."""

import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from thermogan.jsonio import dumps_line, plain, restore_floats, write_json

NESTED = {"a": math.inf, "b": [1.0, -math.inf, {"c": math.nan, "d": (2, math.inf)}],
          "e": {"f": {"g": [[math.nan]]}}, "ok": "inf?", "n": None, "flag": True}
PLAIN = {"a": "inf", "b": [1.0, "-inf", {"c": "nan", "d": [2, "inf"]}],
         "e": {"f": {"g": [["nan"]]}}, "ok": "inf?", "n": None, "flag": True}


def test_non_finite_floats_become_strings_at_every_depth():
    assert plain(NESTED) == PLAIN
    assert plain(math.inf) == "inf" and plain(-math.inf) == "-inf" and plain(math.nan) == "nan"


def test_numpy_torch_tuples_and_paths_become_plain_values():
    value = {"i": np.int64(3), "x": np.float32(0.5), "inf": np.float64(math.inf),
             "arr": np.array([[1.0, np.nan]]), "flag": np.bool_(True),
             "t": torch.tensor(2.5), "tt": torch.tensor([1, 2]), "path": Path("runs") / "a",
             "tuple": (1, (2, 3))}
    out = plain(value)
    assert out == {"i": 3, "x": 0.5, "inf": "inf", "arr": [[1.0, "nan"]], "flag": True,
                   "t": 2.5, "tt": [1, 2], "path": str(Path("runs") / "a"),
                   "tuple": [1, [2, 3]]}
    assert type(out["i"]) is int and type(out["x"]) is float and type(out["flag"]) is bool


def test_a_line_round_trips_through_json_loads():
    line = dumps_line(NESTED)
    assert "\n" not in line and "Infinity" not in line and "NaN" not in line
    assert json.loads(line) == PLAIN
    back = restore_floats(json.loads(line))
    assert back["a"] == math.inf and back["b"][1] == -math.inf
    assert math.isnan(back["b"][2]["c"]) and math.isnan(back["e"]["f"]["g"][0][0])
    assert back["ok"] == "inf?" and back["n"] is None and back["flag"] is True


def test_write_json_is_indented_atomic_and_leaves_no_temporary_file(tmp_path):
    path = tmp_path / "out.json"
    path.write_text("old")
    write_json(NESTED, path)
    text = path.read_text()
    assert text.endswith("}\n") and '\n  "a": "inf"' in text
    assert json.loads(text) == PLAIN
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_failed_write_keeps_the_old_file_and_no_temporary_one(tmp_path, monkeypatch):
    path = tmp_path / "out.json"
    path.write_text("old\n")
    with pytest.raises(TypeError):
        write_json({"x": object()}, path)

    def interrupted(src, dst):
        raise OSError("disk full")

    monkeypatch.setattr("thermogan.atomic.os.replace", interrupted)
    with pytest.raises(OSError, match="disk full"):
        write_json({"x": 1}, path)
    assert path.read_text() == "old\n"
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]
