"""MkDocs hook: the pages generated from the code, so they cannot drift from it.

- ``cli.md``: every command's ``--help``, from the argparse parser of ``thermogan.cli``;
- ``config.md``: every config key with its default and the comment beside it in
  ``thermogan/experiment/config.py`` (a key that names a registry entry lists the kinds it may
  name), the keys that were replaced, with the error a config that still uses one gets, then
  every registry entry with its options and defaults;
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
import re
import tokenize
from typing import Any

from mkdocs.structure.files import File, Files
from pydantic import BaseModel

PAGES = {"cli.md": "cli_page", "config.md": "config_page", "api.md": "api_page"}
#: The config keys that name an entry of a registry (``thermogan.experiment.build.REGISTRIES``)
KINDS = {"data.kind": "datasets", "tempering": "temperings", "model.generator": "generators",
         "model.discriminator": "discriminators", "regulariser": "g_terms",
         "objective.loss": "losses", "optim.g": "optimizers", "optim.d": "optimizers"}
#: Keys that a config may no longer use; the page shows the error each one gets
REPLACED = ["objective.g_terms"]


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
    """A table row per key of ``model``; a section (or a component with keys of its own, such
    as ``data``) gives a row per key it holds."""
    from thermogan.experiment.config import Component

    notes = _comments(model)
    rows = []
    for name, info in model.model_fields.items():
        sub, key = info.annotation, f"{prefix}{name}"
        if isinstance(sub, type) and issubclass(sub, BaseModel) and sub is not Component:
            rows += _sections(sub, f"{key}.")
            if issubclass(sub, Component):  # the chosen kind's own options
                rows.append(f"| `{key}.…` | | the options of the chosen `{key}.kind` "
                            f"(see [{KINDS[key + '.kind']}](#{KINDS[key + '.kind']})) |")
            continue
        default = info.get_default(call_default_factory=True)
        if isinstance(default, BaseModel):
            default = default.model_dump(mode="json")
        note = html.escape(notes.get(name, "")).replace("|", "\\|") + _kinds(key)
        rows.append(f"| `{key}` | `{_yaml(default)}` | {note} |")
    return rows


def _kinds(key: str) -> str:
    """For a key that names a registry entry: the entries it may name."""
    from thermogan.experiment.build import REGISTRIES

    if key not in KINDS:
        return ""
    names = ", ".join(f"`{kind}`" for kind in REGISTRIES[KINDS[key]])
    return f"; kinds: {names} (see [{KINDS[key]}](#{KINDS[key]}))"


def _replaced() -> list[str]:
    """The replaced keys, each with the error that a config using it gets (so the page says
    what the code does: a key the code no longer refuses fails the build)."""
    from thermogan.errors import ConfigError
    from thermogan.experiment.config import REPLACED_OPTIM_KEYS, from_dict

    lines = []
    for key in [*REPLACED, *(f"optim.{old}" for old in REPLACED_OPTIM_KEYS)]:
        section, old = key.split(".")
        try:
            from_dict({section: {old: 0}})
        except ConfigError as err:
            lines.append(f"- `{key}`: {html.escape(str(err))}")
        else:
            raise ValueError(f"{key}: the config accepts it; take it out of REPLACED")
    return lines


def _loss_notes() -> dict[str, str]:
    """Each loss's bullet of ``thermogan.objectives.adversarial``'s docstring, by the names it
    starts with (``- ``wgan`` / ``wgan-gp`` (...): ...``); a loss without one fails the build."""
    from thermogan.objectives import adversarial

    notes = {}
    for bullet in re.findall(r"^- (.+?)(?=\n- |\n\n|\Z)", adversarial.__doc__, re.M | re.S):
        head = re.split(r"[(:]", bullet, maxsplit=1)[0]
        for name in re.findall(r"``([\w-]+)``", head):
            notes[name] = " ".join(bullet[len(head):].lstrip(":").split())
    missing = set(adversarial.LOSSES) - set(notes)
    if missing:
        raise ValueError(f"losses without a line in objectives/adversarial.py: {missing}")
    return notes


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
             "| key | default | meaning |", "|---|---|---|", *_sections(ExperimentConfig), "",
             "## Replaced keys", "",
             "Keys of older configs that a config may no longer use, and the error it gets:", "",
             *_replaced(), ""]
    losses = _loss_notes()
    for registry, entries in REGISTRIES.items():
        lines += [f"## {registry}", ""]
        for kind, entry in entries.items():
            doc = losses[kind] if registry == "losses" else inspect.getdoc(entry) or ""
            doc = html.escape(doc.split("\n\n")[0].replace("\n", " "))
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
