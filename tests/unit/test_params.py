import pytest
import yaml

from stages.params import ParamsError, load_params, parse_params
from tests.conftest import ROOT


def test_the_real_params_file_parses():
    params = load_params(ROOT / "params.yaml")
    assert params.data.target == "species"
    assert params.data.source.kind == "builtin"


def test_unknown_key_is_named():
    with pytest.raises(ParamsError, match=r"train\.learning_rate: unknown key"):
        parse_params({"train": {"learning_rate": 0.1}})


def test_wrong_choice_names_key_value_and_allowed():
    with pytest.raises(ParamsError) as err:
        parse_params({"clean": {"missing": {"numeric": "average"}}})
    message = str(err.value)
    assert "clean.missing.numeric" in message
    assert "'average'" in message
    assert "'median'" in message


def test_split_must_sum_to_one():
    with pytest.raises(ParamsError, match="sum to 1"):
        parse_params({"label": {"split": {"train": 0.5, "val": 0.1, "test": 0.1}}})


def test_file_source_needs_a_path():
    with pytest.raises(ParamsError, match=r"data\.source\.file\.path"):
        parse_params({"data": {"source": {"kind": "file"}}})


def test_invalid_yaml_is_a_clear_error(tmp_path):
    path = tmp_path / "params.yaml"
    path.write_text("train: [unclosed\n")
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(path)


def test_every_section_of_params_yaml_is_known():
    raw = yaml.safe_load((ROOT / "params.yaml").read_text())
    parsed = parse_params(raw).model_dump()
    assert set(raw) <= set(parsed)
