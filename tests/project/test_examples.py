"""Every preset in examples/ parses with the schema and names only settings params.yaml has."""

import pytest
import yaml

from millrace.config.params import load_params
from tests.conftest import ROOT

PRESETS = sorted([*(ROOT / "examples").glob("*.yaml"), *(ROOT / "examples").glob("*/params.yaml")])


def test_there_are_presets():
    assert PRESETS


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.parent.name if p.name == "params.yaml" else p.stem)
def test_every_preset_parses(preset):
    load_params(preset)


def _has(values: dict, key: str) -> bool:
    for part in key.split("."):
        if not isinstance(values, dict) or part not in values:
            return False
        values = values[part]
    return True


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.parent.name if p.name == "params.yaml" else p.stem)
def test_every_preset_has_every_param_dvc_yaml_lists(preset):
    """DVC refuses to run a stage whose params dep is missing from params.yaml, defaults or not."""
    values = yaml.safe_load(preset.read_text())
    listed = {
        key
        for stage in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].values()
        for key in stage.get("params", [])
    }
    missing = sorted(key for key in listed if not _has(values, key))
    assert not missing, f"{preset.relative_to(ROOT)} lacks params dvc.yaml lists: {missing}"
