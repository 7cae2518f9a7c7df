"""dvc.yaml lists, for every stage, the project modules whose code shapes its outputs, and no others.

A module a stage uses that dvc.yaml does not list can change the stage's outputs while `dvc repro`
says "up to date"; a listed module the stage never uses reruns it for nothing. The modules are found
from the source: every import, at the top of a module or inside a function, followed through the
project's modules, plus the model families the registry imports by name.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from tests.conftest import ROOT
from tests.helpers.imports import modules_used

# Modules every stage runs through that decide how it runs, not what it writes: a change to them
# must not rerun the pipeline, so the search stops there.
HOW_NOT_WHAT = {
    "millrace": "the library's version",
    "millrace.entry": "the entry point: arguments, error messages, exit status",
    "millrace.environment": "usage reporting off, Arrow's allocator",
    "millrace.errors": "the exception classes behind those messages",
    "millrace.memory": "when freed memory goes back to the system",
    "millrace.quality.offline_docs": "how the Data Docs pages (not a DVC output) load their scripts",
}


def _modules_used(entry: str) -> set[Path]:
    return modules_used(entry, stop_at=HOW_NOT_WHAT)


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
    assert Path("millrace/release/edge_predict.py") in used  # train → texts → (in a function) edge_predict
    assert Path("millrace/models/families/tabular_mlp.py") in used  # by name, through the registry
    assert Path("millrace/cli.py") not in used
    assert Path("stages/train.py") in used  # what `python -m stages.train` runs
    assert Path("millrace/training/portfolio.py") in _modules_used("stages.select")  # a portfolio fits candidates
    assert Path("millrace/serving/app.py") not in _modules_used("stages.select")


def test_the_registry_is_the_only_place_a_module_is_imported_by_name():
    searched = [*(ROOT / "stages").rglob("*.py"), *(ROOT / "millrace").rglob("*.py")]
    by_name = [
        str(path.relative_to(ROOT)) for path in searched if re.search(r"import_module|__import__\(", path.read_text())
    ]
    assert by_name == ["millrace/models/catalogue.py"], "teach _modules_used how the new one finds its modules"
