"""MkDocs hook: the pages generated from the code, so they cannot drift from it.

- ``cli.md``: every command's ``--help``, from the argparse parser of ``thermogan.cli``;
- ``config.md``: every config key with its default and the comment beside it in
  ``thermogan/experiment/config.py``, then every registry entry with its options and defaults;
- ``api.md``: every name of ``thermogan.PUBLIC`` (what ``import thermogan`` gives), grouped by
  the module that defines it, rendered from its docstring by mkdocstrings.

The pages exist only in the built site (``on_files`` adds them), never in the repository.
"""

from __future__ import annotations

import argparse
import html
import inspect
import io
import os
import tokenize
from typing import Any

from mkdocs.structure.files import File, Files
from pydantic import BaseModel

PAGES = {"cli.md": "cli_page", "config.md": "config_page", "api.md": "api_page"}


def on_files(files: Files, config: Any) -> Files:
    for name, builder in PAGES.items():
        files.append(File.generated(config, name, content=globals()[builder]()))
    return files


def _commands(parser: argparse.ArgumentParser, path: list[str]) -> list[tuple[list[str], str]]:
    """(command path, help text) of ``parser`` and every sub-command below it."""
    out = [(path, parser.format_help())]
    for action in parser._actions:  # argparse keeps its sub-parsers here
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                out += _commands(sub, [*path, name])
    return out


def cli_page() -> str:
    from thermogan.cli import parser

    os.environ["COLUMNS"] = "100"  # argparse wraps to the terminal's width
    lines = ["# Command-line reference", "",
             "Every command's `--help`, generated from the parser when the site is built.", ""]
    for path, text in _commands(parser(), ["thermogan"]):
        lines += [f"## `{' '.join(path)}`", "", "```text", text.rstrip(), "```", ""]
    return "\n".join(lines)


def _comments(cls: type) -> dict[str, str]:
    """The comment beside each field of ``cls`` and the comment lines that continue it (a line
    that starts in the class body's column names a field, or ends the last one)."""
    found: dict[str, str] = {}
    field = None
    for tok in tokenize.generate_tokens(io.StringIO(inspect.getsource(cls)).readline):
        if tok.start[1] == 4 and tok.type in (tokenize.NAME, tokenize.OP):
            field = tok.string if tok.type == tokenize.NAME else None
        elif tok.type == tokenize.COMMENT and field is not None:
            text = tok.string.lstrip("#").strip()
            found[field] = f"{found[field]} {text}" if field in found else text
    return found


def _sections(model: type[BaseModel], prefix: str = "") -> list[str]:
    notes = _comments(model)
    rows = []
    for name, info in model.model_fields.items():
        sub = info.annotation
        if isinstance(sub, type) and issubclass(sub, BaseModel) and "kind" not in sub.model_fields:
            rows += _sections(sub, f"{prefix}{name}.")
            continue
        default = info.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            default = default.model_dump(mode="json")
        note = html.escape(notes.get(name, "")).replace("|", "\\|")
        rows.append(f"| `{prefix}{name}` | `{_yaml(default)}` | {note} |")
    return rows


def _yaml(value: Any) -> str:
    """A default as a config writes it (null, false, {kind: mlp, hidden: [128, 128]})."""
    import yaml

    return yaml.safe_dump(value, default_flow_style=True).strip().removesuffix("...").strip()


def config_page() -> str:
    from thermogan.experiment.build import REGISTRIES, component_options
    from thermogan.experiment.config import ExperimentConfig

    lines = ["# Config reference", "",
             "Every key of a run's config, its default and what it means, generated from the "
             "config's schema when the site is built; then every component a `kind` can name, "
             "with its options (`thermogan list --options` prints the same).", "",
             "| key | default | meaning |", "|---|---|---|", *_sections(ExperimentConfig), ""]
    for registry, entries in REGISTRIES.items():
        lines += [f"## {registry}", ""]
        for kind, entry in entries.items():
            doc = html.escape((inspect.getdoc(entry) or "").split("\n\n")[0].replace("\n", " "))
            options = ", ".join(f"`{k}={v}`" for k, v in component_options(registry, kind))
            lines.append(f"- **`{kind}`**: {doc} Options: {options or 'none'}.")
        lines.append("")
    return "\n".join(lines)


def api_page() -> str:
    from thermogan import PUBLIC

    lines = ["# Python API", "",
             "What `import thermogan` gives, for use in one's own PyTorch loop (each name is "
             "imported when first used), grouped by the module that defines it; generated from "
             "the docstrings when the site is built.", ""]
    for module in sorted(set(PUBLIC.values())):
        lines += [f"## `{module}`", ""]
        for name in sorted(n for n, m in PUBLIC.items() if m == module):
            lines += [f"::: {module}.{name}", "    options:", "      show_root_heading: true",
                      "      show_attribute_values: false", "      heading_level: 3", ""]
    return "\n".join(lines)
