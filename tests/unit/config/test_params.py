"""The params schema: defaults, wrong keys and values named, choices checked before any stage runs."""

import pytest
import yaml

from millrace.config.params import ParamsError, load_params, parse_params
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


DATA = {"data": {"source": {"kind": "builtin", "name": "iris"}, "target": "target"}}
# The keys whose params.yaml value belongs to the default dataset, penguins: the schema has none of its own.
DATASET_SPECIFIC = {"data.source", "data.target", "data.features", "gates.raw.suite", "gates.clean.suite"}
DATASET_SPECIFIC |= {"evaluate.slices", "sweep.grid"}


def _leaves(node, path=""):
    if isinstance(node, dict) and node:
        for key, value in node.items():
            yield from _leaves(value, f"{path}.{key}" if path else key)
    else:
        yield path, node


def test_the_schemas_defaults_are_params_yamls_but_for_the_datasets_own_settings():
    written = dict(_leaves(yaml.safe_load((ROOT / "params.yaml").read_text())))
    defaults = dict(_leaves(parse_params(DATA).model_dump(mode="json")))
    differ = {
        key: (value, defaults.get(key))
        for key, value in written.items()
        if not any(key == k or key.startswith(f"{k}.") for k in DATASET_SPECIFIC) and defaults.get(key) != value
    }
    assert differ == {}


def test_which_data_is_the_users_to_say():
    with pytest.raises(ParamsError) as err:
        parse_params({})
    assert "data: Field required" in str(err.value)
    with pytest.raises(ParamsError) as err:
        parse_params({"data": {"source": {"kind": "builtin", "name": "iris"}}})
    assert "data: set data.target, the column to predict" in str(err.value)


def test_a_language_model_takes_no_target_and_its_own_strategies_only():
    source = {"kind": "file", "path": "qa.jsonl"}
    params = parse_params({"data": {"source": source, "task": "sft"}, "model": {"strategy": "prompt_tuning"}})
    assert params.data.target is None and params.model.pretrained == "smollm2"
    wrong = [
        ({"data": {"source": source, "task": "sft", "target": "y"}}, "has no target column; remove data.target"),
        ({"data": {"source": source, "task": "sft"}, "model": {"name": "linear"}}, "linear is not a language model"),
        ({"data": {"source": source, "target": "y"}, "model": {"strategy": "qlora"}}, "qlora is for language models"),
        ({"data": {"source": source, "task": "sft"}, "model": {"strategy": "freeze"}}, "needs model.freeze_layers"),
        ({"data": {"source": source, "target": "y", "text": {"max_length": 1024}}}, "reads at most 512 tokens"),
    ]
    for raw, said in wrong:
        with pytest.raises(ParamsError, match=said):
            parse_params(raw)


@pytest.mark.parametrize(
    ("key", "value", "allowed"),
    [
        ("accelerator", "gpus", "'cuda'"),
        ("strategy", "dpp", "'ddp'"),
        ("precision", "bf16_mixed", "'bf16-mixed'"),
        ("devices", 0, '"auto"'),
    ],
)
def test_lightning_settings_are_checked_before_any_stage_runs(key, value, allowed):
    with pytest.raises(ParamsError) as err:
        parse_params(DATA | {"train": {key: value}})
    message = str(err.value)
    assert f"train.{key}" in message and repr(value) in message and allowed in message


def test_lightning_settings_it_accepts_parse():
    for settings in ({"accelerator": "gpu", "devices": 2, "strategy": "ddp", "precision": "bf16-mixed"},
                     {"accelerator": "cpu", "devices": "0,1"}, {"devices": [0, 2]}, {"devices": -1}):  # fmt: skip
        parse_params(DATA | {"train": settings})


def test_the_static_lightning_lists_match_the_installed_lightning():
    from typing import get_args

    from lightning.fabric.connector import _PRECISION_INPUT_STR
    from lightning.pytorch.accelerators import AcceleratorRegistry
    from lightning.pytorch.strategies import StrategyRegistry

    from millrace.config.params import Accelerator, Precision, Strategy

    assert set(get_args(Accelerator)) == {"auto", "gpu", *AcceleratorRegistry.available_accelerators()}
    assert set(get_args(Strategy)) == {"auto", *StrategyRegistry.available_strategies()}
    assert set(get_args(Precision)) == set(get_args(_PRECISION_INPUT_STR))


def test_model_name_is_checked_against_the_catalogue():
    from typing import get_args

    from millrace.config.params import FamilyName
    from millrace.models.catalogue import FAMILIES

    assert set(get_args(FamilyName)) == set(FAMILIES)
    with pytest.raises(ParamsError) as err:
        parse_params(DATA | {"model": {"name": "tabular_mpl"}})
    assert "model.name" in str(err.value) and "'tabular_mlp'" in str(err.value)
    for name in ["auto", *FAMILIES]:
        parse_params(DATA | {"model": {"name": name}})
