"""dvc.yaml lists, for every stage, the project modules whose code shapes its outputs, and no others.

A module a stage uses that dvc.yaml does not list can change the stage's outputs while `dvc repro`
says "up to date"; a listed module the stage never uses reruns it for nothing. The modules are found
from the source: every import, at the top of a module or inside a function, followed through the
project's modules, plus the model families the registry imports by name.
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT

# Modules every stage runs through that decide how it runs, not what it writes: a change to them
# must not rerun the pipeline, so the search stops there.
HOW_NOT_WHAT = {
    "stages": "the package: the warm hand-off and Arrow's allocator",
    "stages.cli": "the entry point: arguments, error messages, exit status",
    "stages.errors": "the exception classes behind those messages",
    "stages.memory": "when freed memory goes back to the system",
    "stages.warm": "which process runs the stage",
}


def _source_file(module: str) -> Path | None:
    path = ROOT / Path(*module.split("."))
    for candidate in (path / "__init__.py", path.with_suffix(".py")):
        if candidate.is_file():
            return candidate
    return None


@cache
def _tree(path: Path) -> ast.Module:
    return ast.parse(path.read_text(), filename=str(path))


def _imported_names(path: Path, module: str) -> set[str]:
    """Every module name an import statement in the file could load (`from a import b` may be a.b)."""
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in ast.walk(_tree(path)):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parent + ([node.module] if node.module else []))
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _builds_a_family(path: Path) -> bool:
    """The module calls a family's `build(plan, outputs, spec)`, which imports the family's module by name."""
    return any(
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr == "build"
        and node.args[:1]
        and isinstance(node.args[0], ast.Name)
        and node.args[0].id == "plan"
        for node in ast.walk(_tree(path))
    )


def _family_modules() -> set[str]:
    from stages.registry import REGISTRY

    return {family.builder.split(":")[0] for family in REGISTRY.values()}


def _modules_used(entry: str) -> set[Path]:
    """The project's source files `python -m <entry>` can run, as far as imports say."""
    found: dict[str, Path] = {}
    pending = [entry, f"{entry}.__main__"]  # `python -m` runs a package's __main__
    while pending:
        name = pending.pop()
        parts = name.split(".")
        for depth in range(1, len(parts) + 1):  # importing a.b.c runs a and a.b first
            module = ".".join(parts[:depth])
            path = _source_file(module)
            if path is None or module in found or module in HOW_NOT_WHAT:
                continue
            found[module] = path
            pending.extend(_imported_names(path, module))
            if _builds_a_family(path):
                pending.extend(_family_modules())
    return {path.relative_to(ROOT) for path in found.values()}


def _stages() -> dict[str, dict]:
    return yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]


def _code_deps(stage: dict) -> list[str]:
    return [dep for dep in stage["deps"] if not dep.startswith("$")]


def _covers(dep: str, path: Path) -> bool:
    return path == Path(dep) or Path(dep) in path.parents


@pytest.mark.parametrize("name", list(_stages()))
def test_every_module_a_stage_uses_is_a_dep(name):
    stage = _stages()[name]
    deps = _code_deps(stage)
    used = _modules_used(stage["cmd"].split()[-1])
    missing = sorted(str(path) for path in used if not any(_covers(dep, path) for dep in deps))
    assert not missing, f"dvc.yaml stage {name!r} uses these modules but does not list them as deps: {missing}"


@pytest.mark.parametrize("name", list(_stages()))
def test_every_code_dep_is_used_by_its_stage(name):
    stage = _stages()[name]
    used = _modules_used(stage["cmd"].split()[-1])
    unused = [dep for dep in _code_deps(stage) if not any(_covers(dep, path) for path in used)]
    assert not unused, f"dvc.yaml stage {name!r} lists deps it never imports (it reruns for nothing): {unused}"


def test_the_search_finds_what_a_stage_imports_inside_a_function_and_through_other_modules():
    used = _modules_used("stages.train")
    assert Path("stages/edge_predict.py") in used  # train → texts → (in a function) edge_predict
    assert Path("stages/families/tabular_mlp.py") in used  # by name, through the registry
    assert Path("stages/cli.py") not in used
    assert Path("stages/train/__main__.py") in used  # what `python -m stages.train` runs
    assert Path("stages/families/tabular_mlp.py") not in _modules_used("stages.select")  # select never builds one


def test_the_registry_is_the_only_place_a_module_is_imported_by_name():
    searched = [path for path in (ROOT / "stages").rglob("*.py") if path != _source_file("stages.warm")]
    by_name = [
        str(path.relative_to(ROOT)) for path in searched if re.search(r"import_module|__import__\(", path.read_text())
    ]
    assert by_name == ["stages/registry.py"], "teach _modules_used how the new one finds its modules"
