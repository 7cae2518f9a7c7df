"""The pipeline flow's `--until` names a stage of dvc.yaml."""

from __future__ import annotations

import pytest

from flows.pipeline import stages_to_run
from tests.conftest import ROOT


def test_until_names_a_stage_of_dvc_yaml():
    assert stages_to_run(ROOT, "clean") == ["acquire", "clean"]
    assert stages_to_run(ROOT, None)[-1] == "deploy"
    with pytest.raises(ValueError, match=r"until='cleaning': not a stage of dvc.yaml \(acquire, clean,"):
        stages_to_run(ROOT, "cleaning")
