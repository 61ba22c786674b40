"""Imports point downward only (docs/design.md, "Layers"): a module of ``src/thermogan`` imports
from its own layer or the layers below it, never above."""

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "src" / "thermogan"

#: Top to bottom; a module may import its own layer and those after it. "<root>" is the package's
#: façade (``thermogan/__init__.py``), which re-exports the parts for users.
LAYERS = [
    {"__main__", "cli", "<root>"},
    {"bench"},
    {"experiment"},
    {"report", "dynamics"},
    {"train"},
    {"tempering", "objectives", "optim", "nets", "metrics"},
    {"step"},
    {"data"},
    {"schedules", "errors", "jsonio", "atomic", "provenance"},
]
LEVEL = {name: i for i, layer in enumerate(LAYERS) for name in layer}


def unit(parts: tuple[str, ...]) -> str:
    """The layer unit of a module path inside the package: its subpackage or top-level module."""
    if parts == ("__init__",):
        return "<root>"
    return parts[0]


def imports(path: Path) -> list[tuple[int, tuple[str, ...]]]:
    """(line, module path inside the package) of each ``thermogan`` import in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module] if node.module != "thermogan" else [
                f"thermogan.{a.name}" for a in node.names]
        elif isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        else:
            continue
        found += [(node.lineno, inside(name)) for name in names
                  if name == "thermogan" or name.startswith("thermogan.")]
    return found


def inside(name: str) -> tuple[str, ...]:
    """``thermogan.a.b`` as ("a", "b"); a name of the package root itself (``thermogan``,
    ``thermogan.__version__``) as ("__init__",)."""
    parts = tuple(name.split(".")[1:])
    top = parts[0] if parts else ""
    if top and ((PACKAGE / top).is_dir() or (PACKAGE / f"{top}.py").is_file()):
        return parts
    return ("__init__",)


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_module_belongs_to_a_layer():
    units = {unit(p.relative_to(PACKAGE).with_suffix("").parts) for p in MODULES}
    assert units <= set(LEVEL), f"not in LAYERS: {sorted(units - set(LEVEL))}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_downward(path):
    me = unit(path.relative_to(PACKAGE).with_suffix("").parts)
    upward = [f"line {line}: thermogan.{'.'.join(parts)} ({unit(parts)} is above {me})"
              for line, parts in imports(path) if LEVEL[unit(parts)] < LEVEL[me]]
    assert not upward, "\n".join(upward)


def test_the_config_module_does_not_import_torch():
    tree = ast.parse((PACKAGE / "experiment" / "config.py").read_text())
    names = [a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names]
    names += [n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.module]
    assert not [n for n in names if n == "torch" or n.startswith("torch.")]


def test_an_upward_import_is_caught(tmp_path):
    bad = tmp_path / "bad.py"
    bad.write_text("import thermogan\nfrom thermogan.objectives.adversarial import LOSSES\n"
                   "from thermogan import schedules\n")
    assert [parts for _, parts in imports(bad)] == [("__init__",), ("objectives", "adversarial"),
                                                    ("schedules",)]
    assert LEVEL[unit(("objectives",))] < LEVEL["step"]  # what step.py must not import
    assert LEVEL["<root>"] < LEVEL["provenance"]  # what provenance.py must not import
