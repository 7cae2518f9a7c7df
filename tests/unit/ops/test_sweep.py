"""A sweep's grid: one experiment's arguments per point, wrong keys named, threads shared between workers."""

import pytest
import yaml

from millrace.errors import MillraceError
from millrace.ops.sweep import describe, overrides
from tests.conftest import ROOT

RAW = yaml.safe_load((ROOT / "params.yaml").read_text())


def test_every_point_of_the_grid_is_one_experiments_arguments():
    grid = {"train.lr": [0.02, 0.03], "train.max_epochs": [3, 4]}
    assert overrides(RAW, grid) == [
        ["train.lr=0.02", "train.max_epochs=3"],
        ["train.lr=0.02", "train.max_epochs=4"],
        ["train.lr=0.03", "train.max_epochs=3"],
        ["train.lr=0.03", "train.max_epochs=4"],
    ]
    assert describe(grid) == "train.lr=0.02,0.03 × train.max_epochs=3,4"


def test_a_key_not_in_params_or_a_value_its_schema_refuses_is_named():
    with pytest.raises(MillraceError, match="'train.learning_rate' is not a key of params.yaml"):
        overrides(RAW, {"train.learning_rate": [0.1]})
    with pytest.raises(MillraceError, match="train.max_epochs=-1"):
        overrides(RAW, {"train.max_epochs": [-1]})


def test_experiments_running_at_once_share_the_cores_unless_the_user_set_the_threads(monkeypatch):
    from millrace.ops.sweep import worker_environment

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert worker_environment(jobs=2, cores=2)["OMP_NUM_THREADS"] == "1"
    assert worker_environment(jobs=2, cores=16)["OMP_NUM_THREADS"] == "8"
    assert worker_environment(jobs=4, cores=2)["OMP_NUM_THREADS"] == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert worker_environment(jobs=2, cores=2)["OMP_NUM_THREADS"] == "3"
