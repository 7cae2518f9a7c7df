"""Hostile or damaged files are refused, and whatever they carry never runs."""

import pickle
import shutil

import pandas as pd
import pytest
import torch

from millrace.config.params import ParamsError, load_params
from millrace.errors import MillraceError
from millrace.models.network import load_checkpoint
from millrace.models.trained_model import load
from tests.conftest import ROOT


class Payload:
    """Unpickling this writes a marker file: proof that the payload ran."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_checkpoint_carrying_a_pickle_payload_is_refused_and_never_runs(tmp_path):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "best.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1)}, "extra": Payload(marker)}, path)
    with pytest.raises(MillraceError, match="refusing checkpoint"):
        load_checkpoint(path)
    assert not marker.exists()


def test_a_plain_pickle_is_refused_too(tmp_path):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "best.ckpt"
    path.write_bytes(pickle.dumps(Payload(marker)))
    with pytest.raises(MillraceError, match="refusing checkpoint"):
        load_checkpoint(path)
    assert not marker.exists()


def test_a_truncated_checkpoint_is_refused(tmp_path):
    path = tmp_path / "best.ckpt"
    torch.save({"state_dict": {"w": torch.zeros(1000)}}, path)
    path.write_bytes(path.read_bytes()[:200])
    with pytest.raises(MillraceError, match="refusing checkpoint"):
        load_checkpoint(path)


def test_damaged_weights_are_named(tmp_path):
    from millrace.models.families.tabular_mlp import build
    from millrace.models.network import save
    from tests.helpers.params import plan_for

    plan = plan_for(pd.DataFrame({"x": [0.0, 1.0, 2.0], "y": ["a", "b", "a"]}), ["x"], target="y")
    spec = {"strategy": "full", "size": "small", "hidden": [4], "dropout": 0.0}
    save(tmp_path, build(plan, 2, spec), {"family": "tabular_mlp", "model": spec, "classes": ["a", "b"]}, plan)
    weights = tmp_path / "model.safetensors"
    weights.write_bytes(weights.read_bytes()[:50])
    with pytest.raises(MillraceError, match="model.safetensors is damaged"):
        load(tmp_path)


def test_params_with_a_python_object_tag_is_refused_and_nothing_runs(tmp_path):
    marker = tmp_path / "payload-ran"
    path = tmp_path / "params.yaml"
    shutil.copy(ROOT / "params.yaml", path)
    with path.open("a") as handle:
        handle.write(f'exploit: !!python/object/apply:builtins.open ["{marker}", "w"]\n')
    with pytest.raises(ParamsError, match="not valid YAML"):
        load_params(path)
    assert not marker.exists()
