"""Run stages in-process and record which params.yaml keys each one reads; prints them as JSON.

`python -m tests.helpers.params_reads acquire,clean,...` in a workspace whose upstream outputs exist
(`stage_reads` runs it, `not_listed` compares with dvc.yaml). Every
params section is a frozen pydantic model (`millrace.config.params._Section`); a read is a field of one whose
value is not itself a section (a section is followed to its own fields), or every field under a
section that is dumped whole (`model_dump`, `model_dump_json`, iteration), `include` respected.
"""

from __future__ import annotations

import importlib
import json
import sys
from collections.abc import Iterator
from pathlib import Path

import yaml
from pydantic import BaseModel

from millrace.config import params as schema

reads: set[str] = set()
_where: dict[int, str] = {}  # id(section) -> its dotted key; "" for the root
_kept: list[BaseModel] = []  # keeps every recorded section alive, so an id is never reused


def _key(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name


def _fields(section: BaseModel) -> Iterator[tuple[str, object]]:
    for name in type(section).model_fields:
        yield name, object.__getattribute__(section, name)


def _register(section: BaseModel, prefix: str) -> None:
    _kept.append(section)
    _where[id(section)] = prefix
    for name, value in _fields(section):
        if isinstance(value, schema._Section):
            _register(value, _key(prefix, name))


def _leaves(section: BaseModel, prefix: str, include=None) -> Iterator[str]:
    for name, value in _fields(section):
        if include is not None and name not in include:
            continue
        if isinstance(value, schema._Section):
            yield from _leaves(value, _key(prefix, name))
        else:
            yield _key(prefix, name)


def _record_whole(section: BaseModel, include=None) -> None:
    if id(section) in _where:
        reads.update(_leaves(section, _where[id(section)], include))


def _install() -> None:
    parse = schema.parse_params

    def parse_params(raw, source="params.yaml"):
        loaded = parse(raw, source)
        _register(loaded, "")
        return loaded

    def getattribute(section, name):
        value = object.__getattribute__(section, name)
        if id(section) in _where and name in type(section).model_fields and not isinstance(value, schema._Section):
            reads.add(_key(_where[id(section)], name))
        return value

    def model_dump(section, *args, **kwargs):
        _record_whole(section, kwargs.get("include"))
        return BaseModel.model_dump(section, *args, **kwargs)

    def model_dump_json(section, *args, **kwargs):
        _record_whole(section, kwargs.get("include"))
        return BaseModel.model_dump_json(section, *args, **kwargs)

    def iterate(section):
        _record_whole(section)
        return BaseModel.__iter__(section)

    schema.parse_params = parse_params  # load_params calls it through the module
    schema._Section.__getattribute__ = getattribute
    schema._Section.model_dump = model_dump
    schema._Section.model_dump_json = model_dump_json
    schema._Section.__iter__ = iterate


def unlisted(reads: list[str], listed: list[str]) -> list[str]:
    """The keys read that no listed param (the key, or a section above it) covers; `paths.*` are not
    params deps (dvc.yaml interpolates them into deps and outs)."""
    covering = ["paths", *listed]
    return [key for key in reads if not any(key == param or key.startswith(f"{param}.") for param in covering)]


def stage_reads(repo: Path) -> dict[str, list[str]]:
    """Run every stage of `repo` (a finished workspace) in-process: the params keys each one read."""
    from tests.helpers.harness import sh

    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    ran = sh(repo, sys.executable, "-m", "tests.helpers.params_reads", ",".join(stages))
    return json.loads(ran.stdout.strip().splitlines()[-1])


def not_listed(repo: Path, reads: dict[str, list[str]]) -> dict[str, list[str]]:
    """Per stage, the keys it read that `repo`'s dvc.yaml does not list as its params deps."""
    stages = yaml.safe_load((repo / "dvc.yaml").read_text())["stages"]
    return {name: unlisted(keys, stages[name].get("params", [])) for name, keys in reads.items()}


def main() -> None:
    _install()
    found = {}
    for name in sys.argv[1].split(","):
        module = importlib.import_module(f"stages.{name}")
        reads.clear()
        module.main()
        found[name] = sorted(reads)
    print(json.dumps(found))


if __name__ == "__main__":
    main()
