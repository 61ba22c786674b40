"""Fuzzed bad input: every case exits with status 2 and exactly one line on stderr that names the
key, option or file, with no traceback, and leaves an existing run directory untouched.

The cases are generated from the config schema and the registries, so a new field or component
option is fuzzed without editing this file: an unknown key beside every field (at every depth),
a value of the wrong type for every field, an out-of-range value for every constrained field and
for every numeric option of the components the toy configs use, broken, empty and binary config
files, and bad command-line arguments.
"""

from __future__ import annotations

import math
import typing
from pathlib import Path

import pytest
import yaml
from annotated_types import Ge, Gt, Lt
from pydantic import BaseModel

from thermogan.cli import main
from thermogan.experiment.build import component_options
from thermogan.experiment.config import Component, ExperimentConfig

TINY = {
    "name": "fuzz", "seed": 1, "device": "cpu",
    "data": {"kind": "ring", "box": [-1.0, 1.0]},
    "model": {"generator": {"kind": "mlp", "hidden": [8]},
              "discriminator": {"kind": "mlp", "hidden": [8]}},
    "train": {"steps": 4, "batch_size": 8, "log_every": 2, "checkpoint_every": 2,
              "progress": False, "tensorboard": False},
    "eval": {"samples": 50},
}

#: Components of the toy configs whose numeric options are fuzzed, as (key, spec, registry).
COMPONENTS = [
    ("data", {"kind": "ring"}, "datasets"), ("data", {"kind": "grid"}, "datasets"),
    ("data", {"kind": "mog1d"}, "datasets"), ("data", {"kind": "mog3d"}, "datasets"),
    ("data", {"kind": "cubes"}, "datasets"), ("data", {"kind": "box"}, "datasets"),
    ("tempering", {"kind": "heat"}, "temperings"),
    ("tempering", {"kind": "instance_noise"}, "temperings"),
    ("tempering", {"kind": "lens"}, "temperings"),
    ("optim.g", {"kind": "adam"}, "optimizers"), ("optim.d", {"kind": "sgd"}, "optimizers"),
    ("optim.d", {"kind": "sgld"}, "optimizers"),
    ("objective.penalty", {"kind": "wgan_gp"}, "penalties"),
    ("objective.penalty", {"kind": "r1", "weight": 1.0}, "penalties"),
]


#: Options for which -1 is a valid value, and an invalid one to try instead.
INVALID = {("box", "low"): 5}


def _sections(model: type[BaseModel], prefix: str = "") -> list[tuple[str, str, object]]:
    """(dotted key, field name, field info) of every field of the config, at every depth."""
    out = []
    for name, info in model.model_fields.items():
        key = f"{prefix}{name}"
        out.append((key, name, info))
        if isinstance(info.annotation, type) and issubclass(info.annotation, BaseModel) \
                and info.annotation is not Component and not issubclass(info.annotation,
                                                                         Component):
            out += _sections(info.annotation, f"{key}.")
    return out


FIELDS = _sections(ExperimentConfig)


def _wrong_type(info: object) -> object | None:
    kinds = set(typing.get_args(info.annotation)) | {info.annotation}
    if bool in kinds:
        return "maybe"
    if int in kinds or float in kinds:
        return "many"
    if str in kinds:
        return [1, 2]
    return None


def _out_of_range(info: object) -> object | None:
    for rule in info.metadata:
        if isinstance(rule, Gt):
            return rule.gt
        if isinstance(rule, Ge):
            return rule.ge - 1
        if isinstance(rule, Lt):
            return rule.lt
    return None


def cases() -> list[tuple[str, list[str], list[str]]]:
    """(id, CLI arguments with CONFIG and RUN placeholders, words the error line must hold)."""
    out = []
    for key, name, info in FIELDS:
        section = key.rsplit(".", 1)[0] + "." if "." in key else ""
        out.append((f"unknown {key}", ["train", "CONFIG", f"{section}{name}x=1"],
                    [f"'{section}{name}x'"]))
        wrong = _wrong_type(info)
        if wrong is not None:
            out.append((f"type {key}", ["train", "CONFIG", f"{key}={wrong}"], [key]))
        bad = _out_of_range(info)
        if bad is not None:
            for mode in ("CONFIG", "RESUME"):
                if mode == "RESUME" and not key.startswith(("train.", "eval.")):
                    continue
                out.append((f"range {key} {mode}", ["train", mode, f"{key}={bad}"], [key]))
    for where, spec, registry in COMPONENTS:
        for option, default in component_options(registry, spec["kind"]):
            flow = yaml.safe_dump({**spec, option + "x": 1}, default_flow_style=True).strip()
            out.append((f"unknown {where}.{spec['kind']}.{option}",
                        ["train", "CONFIG", f"{where}={flow}", "data.box=[-1, 1]"],
                        [f"{option}x"]))
            if _number(default):
                value = INVALID.get((spec["kind"], option), -1)
                bad = yaml.safe_dump({**spec, option: value}, default_flow_style=True).strip()
                out.append((f"range {where}.{spec['kind']}.{option}",
                            ["train", "CONFIG", f"{where}={bad}"], [option]))
    return out


#: Every schedule kind but stages (a container of the others) in a place where a valid one
#: trains: a learning-rate factor (>= 0) or, for the kinds that swing below 0, the score term's
#: weight λ (>= −1); each numeric option then gets NaN, ±inf and −1.
SCHEDULE_PLACES = {
    "constant": ("optim.lr_decay", {"value": 1.0}),
    "linear": ("optim.lr_decay", {"start": 1.0, "end": 0.5, "steps": 10}),
    "geometric": ("optim.lr_decay", {"start": 1.0, "end": 0.5, "levels": 2, "steps": 5}),
    "sine_decay": ("optim.lr_decay", {"horizon": 10}),
    "exponential_approach": ("optim.lr_decay", {"initial": 1.0, "target": 0.5,
                                                "time_constant": 3.0}),
    "hold": ("optim.lr_decay", {"horizon": 5, "value": 1.0, "after": 0.5}),
    "linear_to_zero": ("optim.lr_decay", {"bound": 1.0, "total_steps": 10}),
    "decaying_triangle": ("regulariser.weight", {"bound": 1.0, "half_period": 3,
                                                 "total_steps": 10}),
    "pma": ("regulariser.weight", {"total_steps": 10}),
    "nma": ("regulariser.weight", {"total_steps": 10}),
    "oa": ("regulariser.weight", {"total_steps": 10, "half_period": 3}),
}
#: Every controller as instance noise's std (>= 0)
CONTROLLER_PLACES = {"adaptive": {"hot": 0.5}, "constant_controller": {"value": 0.1}}
#: Options for which −1 has a meaning (a triangle wave's bound: its sign)
NEGATIVE_MEANS = {("decaying_triangle", "bound")}


def _flow(value: object) -> str:
    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def _level_override(place: str, spec: dict) -> list[str]:
    """The overrides that put the level ``spec`` at ``place``."""
    if place == "optim.lr_decay":
        return [f"optim.lr_decay={_flow(spec)}"]
    if place == "regulariser.weight":  # the score term on the ring (its analytic score)
        return [f"regulariser={_flow({'kind': 'score', 'weight': spec})}"]
    return [f"tempering={_flow({'kind': 'instance_noise', 'std': spec})}"]


def level_cases() -> list[tuple[str, list[str], list[str]]]:
    """NaN, ±inf and −1 for every numeric option of every schedule and controller; each case is
    one line naming the option (NaN, inf) or the level's key (a value out of its range)."""
    places = [(kind, *SCHEDULE_PLACES[kind], "schedules") for kind in SCHEDULE_PLACES]
    places += [(kind, "tempering.std", base, "controllers")
               for kind, base in CONTROLLER_PLACES.items()]
    out = []
    for kind, place, base, registry in places:
        for option, default in component_options(registry, kind):
            if not (_number(default) or option in base):
                continue
            for value in (math.nan, math.inf, -math.inf, -1):
                if value == -1 and (kind, option) in NEGATIVE_MEANS:
                    continue
                args = _level_override(place, {"kind": kind, **base, option: value})
                words = [option] if value != -1 else [place]
                out.append((f"level {place} {kind}.{option}={value}", ["train", "CONFIG", *args],
                            words))
    return out


def _number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text not in ("null", "true", "false")


FILES = {
    "broken": ("train:\n  steps: [1, 2\n", ["line 3, column 1"]),
    "duplicate": ("train:\n  steps: 1\n  steps: 2\n", ["duplicate key 'steps'"]),
    "empty": ("", ["is empty"]),
    "binary": (b"\x00\xff\xfe\x89PNG", ["not a text (UTF-8) file"]),
    "list": ("- 1\n- 2\n", ["mapping"]),
    "unknown top key": ("trian: {steps: 3}\n", ["'trian'", "'train'"]),
}

CLI = [
    ("no config", ["train"], ["CONFIG"]),
    ("missing config", ["train", "nowhere.yaml"], ["nowhere.yaml does not exist"]),
    ("unknown option", ["train", "CONFIG", "--frobnicate"], ["--frobnicate"]),
    ("unknown command", ["trian"], ["trian"]),
    ("bad device", ["train", "CONFIG", "--device", "tpu"], ["device='tpu'"]),
    ("bad override", ["train", "CONFIG", "train.steps"], ["KEY=VALUE"]),
    ("override into a value", ["train", "CONFIG", "train.steps.x=1"], ["'train.steps'"]),
    ("resume a non-resumable key", ["train", "RESUME", "model.z_dim=3"], ["model.z_dim"]),
    ("sample --n", ["sample", "RUN", "--n", "-3", "--out", "x.npy"], ["--n -3"]),
    ("sample --n not a number", ["sample", "RUN", "--n", "many", "--out", "x.npy"], ["--n"]),
    ("sample suffix", ["sample", "RUN", "--out", "x.txt"], ["--out x.txt"]),
    ("sample labels", ["sample", "RUN", "--labels", "3", "--out", "x.npy"],
     ["not class-conditional"]),
    ("eval --samples", ["eval", "RUN", "--samples", "0"], ["--samples 0"]),
    ("list", ["list", "nosuch"], ["'nosuch'"]),
    ("bench seeds", ["bench", "modes", "--seeds", "0", "--out", "OUT"], ["--seeds 0"]),
    ("bench levels", ["bench", "oscillation", "--levels", "a,b", "--out", "OUT"], ["--levels"]),
    ("bench methods", ["bench", "modes", "--methods", "nosuch", "--out", "OUT"], ["nosuch"]),
    ("dynamics init", ["dynamics", "figure1", "--init", "1,2", "--out", "OUT"], ["--init"]),
    # what a new user hit (issue [16]): each is now one line that names the key, nothing written
    ("a G term's weight misspelt", ["train", "CONFIG", "regulariser={kind: score, wieght: 2}"],
     ["did you mean 'regulariser.weight'"]),
    ("a tempering without kind", ["train", "CONFIG", "tempering=[{std: 1}]"],
     ["tempering[0]", "names no kind"]),
    ("true for a number", ["train", "CONFIG", "model.z_dim=true"], ["model.z_dim"]),
    ("the score's λ below −1", ["train", "CONFIG", "regulariser={kind: score, weight: -2}"],
     ["regulariser.weight takes the value -2"]),
    ("β below 0", ["train", "CONFIG", "tempering={kind: heat, beta: -1}"], ["tempering.beta"]),
    ("an analytic score of uniform data", ["train", "CONFIG", "data={kind: box}",
                                           "regulariser={kind: score, score: analytic}"],
     ["score=analytic", "uniform"]),
    ("a word for NaN", ["train", "CONFIG", "tempering={kind: instance_noise, std_start: nan}"],
     ["tempering.std_start", "finite"]),
    ("a learning rate that goes below 0", ["train", "CONFIG", "optim.lr_decay={kind: linear, "
                                           "start: 1, end: -1, steps: 10}"], ["optim.lr_decay"]),
    ("resume into another folder", ["train", "RESUME", "--out", "OUT"], ["leave out --out"]),
    ("a report's figure as text", ["report", "RUN", "--out", "OUT.txt"], ["--out"]),
    ("a report over a run's summary", ["report", "RUN", "--html", "RUN/summary.json"],
     ["belongs to the run"]),
]


@pytest.fixture(scope="module")
def workspace(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("fuzz")
    config = root / "tiny.yaml"
    config.write_text(yaml.safe_dump(TINY))
    run = root / "run"
    assert main(["train", str(config), "--out", str(run)]) == 0
    return {"CONFIG": config, "RUN": run, "ROOT": root}


def tree(folder: Path) -> dict[str, tuple[int, int]]:
    """Every file below ``folder`` with its size and modification time."""
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def run_case(args: list[str], ws: dict[str, Path], capsys: pytest.CaptureFixture) -> tuple:
    new = ws["ROOT"] / "new"
    filled = []
    for a in args:
        if a == "RESUME":
            filled += ["--resume", str(ws["RUN"])]
        else:
            filled.append({"CONFIG": str(ws["CONFIG"]), "RUN": str(ws["RUN"]),
                           "OUT": str(new), "OUT.txt": str(new / "r.txt"),
                           "RUN/summary.json": str(ws["RUN"] / "summary.json")}.get(a, a))
    if args[:2] == ["train", "CONFIG"]:
        filled += ["--out", str(new)]
    before = tree(ws["RUN"])
    capsys.readouterr()
    try:
        code = main(filled)
    except SystemExit as exit_:
        code = exit_.code
    err = capsys.readouterr().err
    assert tree(ws["RUN"]) == before, "the existing run directory changed"
    assert not new.exists() or not any(new.iterdir()), f"{new} was written"
    return code, err


CASES = cases()
LEVEL_CASES = level_cases()


def test_the_fuzz_covers_every_field_and_option():
    """Every config field and every option of the fuzzed components has its unknown-key case
    (189 cases in all when this was written: 165 generated, 6 files, 18 command lines)."""
    ids = {case[0] for case in CASES}
    assert all(f"unknown {key}" in ids for key, _, _ in FIELDS)
    for where, spec, registry in COMPONENTS:
        for option, _ in component_options(registry, spec["kind"]):
            assert f"unknown {where}.{spec['kind']}.{option}" in ids
    assert len(CASES) + len(FILES) + len(CLI) >= 180


def test_the_fuzz_covers_every_schedule_and_controller():
    """Every schedule (but stages, a container of the others) and every controller has a place
    in the level cases, and each of their numeric options its NaN case."""
    from thermogan.schedules import SCHEDULES
    from thermogan.tempering import CONTROLLERS

    def library(registry):  # what the package registers (tests/plugins.py adds its own)
        return {k for k, v in registry.items() if v.__module__.startswith("thermogan.")}

    assert set(SCHEDULE_PLACES) == library(SCHEDULES) - {"stages"}
    assert set(CONTROLLER_PLACES) == library(CONTROLLERS)
    ids = {case[0] for case in LEVEL_CASES}
    assert "level optim.lr_decay linear.end=nan" in ids
    assert "level tempering.std adaptive.target=-1" in ids


@pytest.mark.parametrize("case", CASES + CLI + LEVEL_CASES,
                         ids=[c[0] for c in CASES + CLI + LEVEL_CASES])
def test_bad_input_is_one_line_with_status_2(case, workspace, capsys):
    _, args, words = case
    code, err = run_case(args, workspace, capsys)
    lines = err.strip().splitlines()
    assert code == 2, err
    assert len(lines) == 1 and lines[0].startswith("thermogan: error: "), err
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], (word, lines[0])


@pytest.mark.parametrize("name", sorted(FILES))
def test_bad_config_files_are_one_line_with_status_2(name, workspace, capsys):
    content, words = FILES[name]
    path = workspace["ROOT"] / f"{name.replace(' ', '_')}.yaml"
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    code, err = run_case(["train", str(path), "--out", str(workspace["ROOT"] / "new")],
                         workspace, capsys)
    lines = err.strip().splitlines()
    assert code == 2 and len(lines) == 1 and str(path) in lines[0], err
    for word in words:
        assert word in lines[0]
