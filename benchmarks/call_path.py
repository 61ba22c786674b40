"""The call path of a run: what following a config from ``runs.start`` passes through.

Traces ``runs.start`` of a short run of a config (``sys.setprofile``) and counts the library's
functions called, the modules they live in, the distinct cross-module calls (caller function →
callee function in another module), and the *climbs*: cross-module calls whose callee's module
imports the caller's module, directly or through others (imports under ``TYPE_CHECKING`` left
out), i.e. calls that go back up against the import direction (callbacks, a member's own
methods). Fewer of each is a run easier to follow.

Usage: python benchmarks/call_path.py [CONFIG ...] [--steps 3] [--out bench-out]
Prints a table (and each climb) and writes OUT/call_path.json: {"rows": [{"config": name,
"functions": f, "modules": m, "cross_module_calls": c, "climbs": k, "climb_calls": [...],
"module_functions": {module: n}}, ...]}.
"""

from __future__ import annotations

import argparse
import ast
import json
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

from thermogan.experiment import config, runs

SRC = Path(__file__).resolve().parents[1] / "src"


def module_of(filename: str) -> str | None:
    """The dotted module of a source file of the package; None outside it."""
    try:
        rel = Path(filename).resolve().relative_to(SRC)
    except ValueError:
        return None
    parts = list(rel.with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Each module's imports of the package's modules (and of names in them), at run time."""
    graph: dict[str, set[str]] = {}
    for path in SRC.rglob("*.py"):
        tree = ast.parse(path.read_text())
        typing_only = {id(n) for node in ast.walk(tree) if isinstance(node, ast.If)
                       and "TYPE_CHECKING" in ast.unparse(node.test) for n in ast.walk(node)}
        found = graph.setdefault(str(module_of(str(path))), set())
        for node in ast.walk(tree):
            if id(node) in typing_only:
                continue
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("thermogan"):
                found |= {node.module, *(f"{node.module}.{a.name}" for a in node.names)}
            elif isinstance(node, ast.Import):
                found |= {a.name for a in node.names if a.name.startswith("thermogan")}
    return graph


def reaches(graph: dict[str, set[str]], start: str) -> set[str]:
    """The modules ``start`` imports, directly or through others."""
    seen, todo = set(), [start]
    while todo:
        for nxt in graph.get(todo.pop(), ()):
            if nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return seen


def trace(path: str, steps: int) -> tuple[set[tuple[str, str]], Counter]:
    """The functions called by ``runs.start`` of the config and its cross-module calls."""
    functions: set[tuple[str, str]] = set()
    calls: Counter = Counter()

    def profile(frame: Any, event: str, _: Any) -> None:
        callee = module_of(frame.f_code.co_filename) if event == "call" else None
        if callee is None:
            return
        functions.add((callee, frame.f_code.co_qualname))
        back = frame.f_back
        while back is not None and module_of(back.f_code.co_filename) is None:
            back = back.f_back
        caller = module_of(back.f_code.co_filename) if back is not None else None
        if caller is not None and caller != callee:
            calls[(caller, back.f_code.co_qualname, callee, frame.f_code.co_qualname)] += 1

    cfg = config.load(path, [f"train.steps={steps}", "train.progress=false", "device=cpu",
                             "train.tensorboard=false", "eval.samples=200", "train.log_every=1"])
    with tempfile.TemporaryDirectory() as folder:
        sys.setprofile(profile)
        try:
            runs.start(cfg, Path(folder) / "run")
        finally:
            sys.setprofile(None)
    return functions, calls


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("configs", nargs="*", default=["configs/ring8_vanilla.yaml"])
    parser.add_argument("--steps", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench-out"))
    args = parser.parse_args()
    graph, rows = import_graph(), []
    for path in args.configs:
        functions, calls = trace(path, args.steps)
        climbs = sorted(c for c in calls if c[0] in reaches(graph, c[2]))
        rows.append({"config": Path(path).stem, "functions": len(functions),
                     "modules": len({m for m, _ in functions}), "cross_module_calls": len(calls),
                     "climbs": len(climbs), "climb_calls": [" → ".join(
                         (f"{a}.{f}", f"{b}.{g}")) for a, f, b, g in climbs],
                     "module_functions": dict(sorted(Counter(m for m, _ in functions).items()))})
    print("| config | functions | modules | cross-module calls | climbs |\n|---|---|---|---|---|")
    for r in rows:
        print(f"| {r['config']} | {r['functions']} | {r['modules']} | "
              f"{r['cross_module_calls']} | {r['climbs']} |")
    for r in rows:
        for call in r["climb_calls"]:
            print(f"{r['config']}: climb {call}")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "call_path.json").write_text(json.dumps({"rows": rows}, indent=2))


if __name__ == "__main__":
    main()
