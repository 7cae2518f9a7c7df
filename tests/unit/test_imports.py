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


def test_importing_stages_does_not_load_great_expectations():
    assert "great_expectations" not in _loaded_after("stages.acquire")
