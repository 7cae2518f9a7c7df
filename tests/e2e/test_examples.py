"""Every preset in examples/ runs end to end with the real `dvc repro`."""

import json
import shutil

import pytest

from tests.conftest import ROOT
from tests.harness import copy_project, sh

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("preset", sorted((ROOT / "examples").glob("*.yaml")), ids=lambda p: p.stem)
def test_preset_runs_end_to_end(preset, tmp_path):
    repo = copy_project(tmp_path / "repo")
    shutil.copy(preset, repo / "params.yaml")
    sh(repo, "dvc", "repro")
    metrics = json.loads((repo / "reports/evaluate/metrics.json").read_text())
    assert metrics["delivery"]["passed"] is True
    manifest = json.loads((repo / "models/deploy/manifest.json").read_text())
    assert manifest["target"] == json.loads((repo / "data/label/label_map.json").read_text())["target"]
