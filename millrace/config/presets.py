"""Presets: files of overrides of params.yaml for other data, applied with `millrace preset FILE`.

A preset holds only what differs from params.yaml. Applying it merges it into params.yaml: a section of the
schema (one of its pydantic models) merges key by key; anything else — a value, a list, a free-form mapping
such as `evaluate.thresholds`, a data source — is replaced whole, so a preset never inherits half of the
default's. The result is validated against the schema before params.yaml is written, atomically, with its
comments and key order kept (ruamel.yaml's round trip). Uncommitted edits to params.yaml are never
overwritten: the command refuses unless told to.
"""

from __future__ import annotations

import io
import subprocess
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from millrace.config.params import Params, ParamsError, parse_params
from millrace.errors import MillraceError
from millrace.files import write_text


def round_trip() -> YAML:
    yaml = YAML()  # round trip: comments, order and flow style survive
    yaml.preserve_quotes = True
    yaml.width = 4096  # a long line of the user's stays one line
    yaml.indent(mapping=2, sequence=4, offset=2)  # as params.yaml indents a list under its key
    yaml.representer.add_representer(type(None), _null)  # `null`, as params.yaml writes it, not an empty value
    return yaml


def _null(representer, _value):
    return representer.represent_scalar("tag:yaml.org,2002:null", "null")


def _load(path: Path, what: str) -> Any:
    try:
        return round_trip().load(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MillraceError(f"{what} {path} not found") from None
    except YAMLError as exc:
        raise ParamsError(f"{path} is not valid YAML: {exc}") from None


def _section(model: type[BaseModel], key: str) -> type[BaseModel] | None:
    """The schema model of `key` in `model` when it is one section (merged key by key), else None."""
    field = model.model_fields.get(key)
    annotation = field.annotation if field else None
    return annotation if isinstance(annotation, type) and issubclass(annotation, BaseModel) else None


def merge(base: Any, overrides: Any, model: type[BaseModel] = Params, prefix: str = "") -> list[str]:
    """Merge `overrides` into the mapping `base` in place, as the schema says; the dotted keys it set."""
    changed = []
    for key, value in overrides.items():
        dotted = f"{prefix}{key}"
        section = _section(model, key)
        if section is not None and isinstance(value, dict) and isinstance(base.get(key), dict):
            changed += merge(base[key], value, section, f"{dotted}.")
        elif base.get(key) != value or key not in base:
            base[key] = value
            changed.append(dotted)
    return changed


def apply_preset(params_file: Path, preset_file: Path) -> tuple[str, list[str]]:
    """params.yaml's text with the preset merged in (validated), and the keys the preset changed."""
    params, preset = _load(params_file, "params file"), _load(preset_file, "preset")
    if not isinstance(preset, dict) or not preset:
        raise ParamsError(f"{preset_file}: a preset is a mapping of the params.yaml settings it changes")
    changed = merge(params, preset)
    parse_params(params, f"{params_file} with {preset_file}")  # the schema's error names the key and the preset
    out = io.StringIO()
    round_trip().dump(params, out)
    return out.getvalue(), changed


def uncommitted(path: Path) -> bool:
    """git sees edits to `path` that are not committed (False outside a git repository)."""
    try:
        status = subprocess.run(
            ["git", "status", "--porcelain", "--", path.name], cwd=path.parent, capture_output=True, text=True
        )
    except FileNotFoundError:  # no git on this machine
        return False
    return status.returncode == 0 and bool(status.stdout.strip())


def main(argv: list[str]) -> None:
    """`millrace preset FILE [--force]`: merge a preset into params.yaml."""
    import argparse

    from rich.console import Console

    parser = argparse.ArgumentParser(prog="millrace preset", description=__doc__.split("\n\n")[0])
    parser.add_argument("preset", type=Path, help="a preset file, e.g. examples/digits.yaml")
    parser.add_argument("--params", type=Path, default=Path("params.yaml"), help="the params file to change")
    parser.add_argument("--force", action="store_true", help="overwrite uncommitted edits to params.yaml")
    args = parser.parse_args(argv)
    if not args.force and uncommitted(args.params):
        raise MillraceError(
            f"{args.params} has uncommitted edits: commit them (or `git checkout {args.params}` to drop them), "
            "or pass --force to overwrite them"
        )
    text, changed = apply_preset(args.params, args.preset)
    write_text(args.params, text)
    shown = ", ".join(changed) if changed else "nothing: params.yaml already had these values"
    Console().print(f"{args.params}: applied {args.preset} ({len(changed)} settings): {shown}", highlight=False)
    if changed:
        Console().print("next: `dvc repro` (DVC reruns what these settings change)", highlight=False)
