"""dvc.yaml, params.yaml and the code agree: every stage has a module, every key exists."""

import importlib
import re

import yaml

from tests.conftest import ROOT

DVC = yaml.safe_load((ROOT / "dvc.yaml").read_text())
PARAMS = yaml.safe_load((ROOT / "params.yaml").read_text())


def _lookup(key: str):
    node = PARAMS
    for part in key.split("."):
        assert isinstance(node, dict) and part in node, f"params.yaml has no {key!r}"
        node = node[part]
    return node


def test_stages_are_the_seven_in_order():
    assert list(DVC["stages"]) == ["acquire", "clean", "label", "select", "train", "evaluate", "deploy"]


def test_every_stage_runs_its_own_module():
    for name, stage in DVC["stages"].items():
        assert stage["cmd"] == f"python -m stages.{name}"
        module = importlib.import_module(f"stages.{name}")
        assert hasattr(module, "run"), f"stages.{name} has no run()"


def test_every_param_a_stage_lists_exists():
    for stage in DVC["stages"].values():
        for key in stage.get("params", []):
            _lookup(key)


def test_every_interpolated_path_exists_in_params():
    text = (ROOT / "dvc.yaml").read_text()
    for key in re.findall(r"\$\{([^}]+)\}", text):
        assert isinstance(_lookup(key), str)
