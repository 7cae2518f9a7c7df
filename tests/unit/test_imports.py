"""Stages import only what they use, and importing them touches nothing heavy."""

import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _loaded_after(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("module", ["stages.acquire", "stages.clean", "stages.label", "stages.select"])
def test_data_stages_do_not_import_torch_or_lightning(module):
    loaded = _loaded_after(module)
    assert "lightning" not in loaded
    assert "torch" not in loaded
    assert "prefect" not in loaded


def test_importing_stages_does_not_load_great_expectations_or_source_clients():
    loaded = _loaded_after("stages.acquire")
    assert not {"great_expectations", "httpx", "sqlalchemy", "openpyxl", "ftfy"} & loaded


@pytest.mark.parametrize("stage", ["acquire", "clean", "label", "select", "train", "evaluate", "deploy"])
def test_stage_help_describes_it_and_runs_nothing_heavy(stage):
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", f"stages.{stage}", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"python -m stages.{stage}" in out.stdout
    assert stage in out.stdout.split("\n\n")[1]  # the module docstring
    imported = out.stderr
    assert "lightning" not in imported and "great_expectations" not in imported


def test_stage_refuses_unknown_arguments():
    out = subprocess.run([sys.executable, "-m", "stages.clean", "--bogus"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and "unrecognized arguments: --bogus" in out.stderr


def test_handing_a_stage_to_the_warm_worker_imports_only_the_command_side():
    """Every warm stage command (and the flow's tether) imports stages.warm: what only the worker uses, or only
    starting one, is imported where it is used (~12 ms of a ~50 ms command)."""
    loaded = _loaded_after("stages.warm")
    assert not {"logging", "subprocess", "threading", "dataclasses", "typing"} & loaded
