import pytest

from stages.params import load_params
from tests.conftest import ROOT

PRESETS = sorted([*(ROOT / "examples").glob("*.yaml"), *(ROOT / "examples").glob("*/params.yaml")])


def test_there_are_presets():
    assert PRESETS


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.parent.name if p.name == "params.yaml" else p.stem)
def test_every_preset_parses(preset):
    load_params(preset)
