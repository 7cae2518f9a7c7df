import pytest
import yaml

from stages.errors import MillraceError
from stages.sweep import describe, overrides
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
    from stages.sweep import worker_environment

    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    assert worker_environment(jobs=2, cores=2)["OMP_NUM_THREADS"] == "1"
    assert worker_environment(jobs=2, cores=16)["OMP_NUM_THREADS"] == "8"
    assert worker_environment(jobs=4, cores=2)["OMP_NUM_THREADS"] == "1"
    monkeypatch.setenv("OMP_NUM_THREADS", "3")
    assert worker_environment(jobs=2, cores=2)["OMP_NUM_THREADS"] == "3"


@pytest.mark.parametrize("target", ["run", "flow", "sweep"])
def test_make_hands_the_stages_of_runs_flows_and_sweeps_to_the_warm_worker(target):
    import os
    import subprocess

    env = {k: v for k, v in os.environ.items() if k != "MILLRACE_WARM"}
    # -p prints make's database, target-specific variables included; -n runs no recipe
    database = subprocess.run(
        ["make", "-pn", "--no-print-directory", target], cwd=ROOT, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert f"{target}: MILLRACE_WARM = 1" in database.splitlines()
