"""Presets merge into params.yaml as the schema says: sections key by key, anything else replaced whole."""

import pytest
import yaml

from millrace.config.params import ParamsError, parse_params
from millrace.config.presets import apply_preset, merge
from tests.conftest import ROOT

BASE = """# the user's params
data:
  source: {kind: builtin, name: penguins}   # the default data
  target: species
  features: [island, sex]
train:
  lr: 0.01     # step size
  augment: {flip: false, rotate_degrees: 0, shift: 0.0}
evaluate:
  thresholds: {accuracy: 0.9, f1_macro: 0.85}
serve:
  token_env: null
"""


def test_sections_merge_key_by_key_and_everything_else_is_replaced_whole():
    base = yaml.safe_load(BASE)
    preset = {
        "data": {"source": {"kind": "file", "path": "x.csv"}, "features": None},
        "train": {"augment": {"shift": 0.1}},
        "evaluate": {"thresholds": {"r2": 0.3}},
    }
    changed = merge(base, preset)
    assert base["data"] == {"source": {"kind": "file", "path": "x.csv"}, "target": "species", "features": None}
    assert base["train"] == {"lr": 0.01, "augment": {"flip": False, "rotate_degrees": 0, "shift": 0.1}}
    assert base["evaluate"]["thresholds"] == {"r2": 0.3}  # not accuracy from the default as well
    assert changed == ["data.source", "data.features", "train.augment.shift", "evaluate.thresholds"]


def test_the_file_keeps_its_comments_and_writes_null_as_null(tmp_path):
    (tmp_path / "params.yaml").write_text(BASE)
    (tmp_path / "preset.yaml").write_text("train: {lr: 0.003}\n")
    text, changed = apply_preset(tmp_path / "params.yaml", tmp_path / "preset.yaml")
    assert changed == ["train.lr"]
    assert text == BASE.replace("lr: 0.01 ", "lr: 0.003")
    assert apply_preset(tmp_path / "params.yaml", tmp_path / "params.yaml") == (BASE, [])


def test_a_wrong_key_or_value_is_named_with_the_preset(tmp_path):
    (tmp_path / "params.yaml").write_text(BASE)
    (tmp_path / "preset.yaml").write_text("train: {lrate: 0.003, precision: bf16}\n")
    with pytest.raises(ParamsError) as err:
        apply_preset(tmp_path / "params.yaml", tmp_path / "preset.yaml")
    message = str(err.value)
    assert "preset.yaml" in message and "train.lrate: unknown key" in message and "train.precision" in message
    (tmp_path / "preset.yaml").write_text("- train\n")
    with pytest.raises(ParamsError, match="a preset is a mapping"):
        apply_preset(tmp_path / "params.yaml", tmp_path / "preset.yaml")


PRESETS = sorted((ROOT / "examples").glob("*.yaml"))


@pytest.mark.parametrize("preset", PRESETS, ids=lambda path: path.stem)
def test_every_example_is_a_short_override_that_makes_a_valid_params_file(preset):
    assert len(preset.read_text().splitlines()) <= 30
    text, changed = apply_preset(ROOT / "params.yaml", preset)
    assert changed and parse_params(yaml.safe_load(text))
    assert len(changed) == len(set(changed))


DATASET_SPECIFIC = ["data.source", "data.target", "data.features", "gates.raw.suite", "gates.clean.suite"]
DATASET_SPECIFIC += ["evaluate.slices"]


@pytest.mark.parametrize("preset", PRESETS, ids=lambda path: path.stem)
def test_every_example_replaces_all_of_the_defaults_dataset_settings(preset):
    """So that applying one preset after another leaves nothing of the first one's data."""
    written = yaml.safe_load(preset.read_text())
    assert [key for key in DATASET_SPECIFIC if not _has(written, key)] == []


def _has(values: dict, key: str) -> bool:
    for part in key.split("."):
        if not isinstance(values, dict) or part not in values:
            return False
        values = values[part]
    return True
