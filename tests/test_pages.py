"""Every fenced block of README.md and docs/*.md is run or checked here, or marked as not run:
a page that gains a block of another kind fails, so no example can drift from the code unseen.

What a block's language (after its opening fence) means:

- ``python``: run as written, in this process, its long loops cut to 40 steps; a block that only
  includes examples (``--8<-- "examples/NAME.py"``, the site's snippets) names files that exist,
  and tests/test_examples.py runs them.
- ``shell``: commands, each checked without its cost. A ``thermogan`` command is read by the
  command line itself (``thermogan.cli.main``): ``train CONFIG`` runs with ``--check`` (config,
  overrides, parts, data and scorer, nothing trained), ``list`` and ``--help`` run, and every
  other command is parsed and stopped where its work would begin. ``make T`` names a target of
  the Makefile, ``pip install '.[X]'`` extras that pyproject.toml declares, and ``torchrun ...
  -m thermogan ...`` a thermogan command checked as above. Any other program fails.
- ``yaml``: a config, or a part of one, valid for the config's schema and every component's
  options; a study file (``datasets:``) valid for the study reader.
- ``text``: output, a file layout, a diagram or a usage line: shown, not run.
- any language, right after a line ``<!-- not run: REASON -->``: shown, not run (a command that
  needs a GPU, a download or hours).
"""

import re
import shlex
from importlib.metadata import metadata
from pathlib import Path

import pytest
import yaml

from thermogan import cli
from thermogan.bench import study
from thermogan.experiment.build import check_components
from thermogan.experiment.config import from_dict

ROOT = Path(__file__).resolve().parents[1]
PAGES = ["README.md", *sorted(f"docs/{p.name}" for p in (ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^(?P<indent> *)```(?P<lang>[^\n`]*)\n(?P<body>.*?)^(?P=indent)```[ \t]*$",
                   re.S | re.M)
NOT_RUN = re.compile(r"<!-- not run: \S.*-->")
SNIPPET = re.compile(r'--8<-- "([^"]+)"')


def _blocks() -> list[tuple[str, str, str]]:
    """(where, language or "not run", body) of every fenced block of the pages."""
    found = []
    for page in PAGES:
        text = (ROOT / page).read_text()
        for m in FENCE.finditer(text):
            before = text[:m.start()].rstrip().rsplit("\n", 1)[-1]
            lang = "not run" if NOT_RUN.search(before) else m["lang"].strip()
            found.append((f"{page}:{text.count(chr(10), 0, m.start()) + 1}", lang, m["body"]))
    return found


BLOCKS = _blocks()


def _of(lang: str) -> list:
    chosen = [(where, body) for where, kind, body in BLOCKS if kind == lang]
    return [pytest.param(where, body, id=where) for where, body in chosen]


def test_every_block_is_run_checked_or_marked():
    known = {"python", "shell", "yaml", "text", "not run"}
    unmarked = [f"{where} ```{lang}" for where, lang, _ in BLOCKS if lang not in known]
    assert not unmarked, ("blocks that no test runs and no marker explains (see this file's "
                          f"docstring): {unmarked}")
    assert {lang for _, lang, _ in BLOCKS} >= {"python", "shell", "yaml"}  # the walk finds them


@pytest.mark.parametrize(("where", "code"), _of("python"))
def test_python_block_runs(where, code, capsys):
    includes = SNIPPET.findall(code)
    if includes:
        assert not SNIPPET.sub("", code).strip(), f"{where}: includes mixed with code"
        assert all(name.startswith("examples/") and (ROOT / name).is_file() for name in includes)
        return
    code = re.sub(r"range\(\d{3,}\)", "range(40)", re.sub(r"steps = \d+", "steps = 40", code))
    exec(compile(code, where, "exec"), {})
    assert capsys.readouterr().out.strip()  # each prints its result


def _commands(body: str) -> list[list[str]]:
    """The block's commands as argument lists (comments dropped, continued lines joined)."""
    return [words for line in body.replace("\\\n", " ").splitlines()
            if (words := shlex.split(line, comments=True))]


def _check_thermogan(args: list[str], monkeypatch) -> None:
    for name in ("_eval", "_sample", "_bench", "_dynamics", "_data_fetch", "_data_classifier",
                 "_report"):  # parsed, then stopped where the work would begin
        monkeypatch.setattr(cli, name, lambda parsed: None)
    if args[0] == "train" and "--resume" in args:
        monkeypatch.setattr(cli, "_train", lambda parsed: None)
    elif args[0] == "train":
        args = [*args, "--check"]
    try:
        code = cli.main(args)
    except SystemExit as done:  # argparse: --help, or a usage error
        code = done.code
    assert code == 0, f"thermogan {shlex.join(args)} exits {code}"


def _check_command(words: list[str], monkeypatch) -> None:
    program, *args = words
    if program == "thermogan":
        _check_thermogan(args, monkeypatch)
    elif program == "torchrun":
        assert "-m" in args and args[args.index("-m") + 1] == "thermogan", words
        _check_thermogan(args[args.index("-m") + 2:], monkeypatch)
    elif program == "make":
        phony = re.search(r"^\.PHONY:(.*)$", (ROOT / "Makefile").read_text(), re.M)[1].split()
        assert set(args) <= set(phony), f"make {args}: the Makefile's targets are {phony}"
    elif program == "pip" and args[0] == "install":
        declared = metadata("thermogan").get_all("Provides-Extra")  # pyproject.toml's extras
        for spec in args[1:]:
            target = re.fullmatch(r"\.(?:\[([\w,-]+)\])?", spec)
            assert target, f"pip install {spec}: the pages install the repository (.)"
            assert set((target[1] or "").split(",")) - {""} <= set(declared), spec
    else:
        raise AssertionError(f"{shlex.join(words)}: a shell block runs thermogan, torchrun, make "
                             "or pip install; mark anything else (see this file's docstring)")


@pytest.mark.parametrize(("where", "body"), _of("shell"))
def test_shell_block_commands_are_accepted(where, body, monkeypatch, request, capsys):
    if "mnist" in body:
        request.getfixturevalue("mnist_home")  # small MNIST files: the configs' checks read them
    monkeypatch.chdir(ROOT)  # the pages name configs/... from the repository's root
    commands = _commands(body)
    assert commands, f"{where}: an empty shell block"
    for words in commands:
        _check_command(words, monkeypatch)


@pytest.mark.parametrize(("where", "text"), _of("yaml"))
def test_yaml_block_is_a_valid_config_or_study(where, text, tmp_path):
    raw = yaml.safe_load(text)
    if "datasets" in raw:
        (tmp_path / "study.yaml").write_text(text)
        study.read(tmp_path / "study.yaml")
    else:
        check_components(from_dict(raw))
