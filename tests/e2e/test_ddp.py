"""Lightning DDP on this machine: two CPU processes (gloo) train through the real `dvc repro`, each on its
half of every epoch, and the model matches the single-process one within tolerance."""

import json
import math
import re

import pandas as pd
import pytest

from tests.helpers.harness import set_param, sh, stages_run

pytestmark = pytest.mark.slow


def test_ddp_on_two_cpu_processes_matches_a_single_process_run(workspace):
    single = json.loads((workspace / "reports/train/metrics.json").read_text())
    set_param(workspace, r"^  accelerator: .*$", "  accelerator: cpu")
    set_param(workspace, r"^  devices: .*$", "  devices: 2")
    set_param(workspace, r"^  strategy: auto( +# Lightning's.*)$", r"  strategy: ddp\1")
    ran = sh(workspace, "dvc", "repro", "train")
    assert stages_run(ran.stdout)[-1:] == ["train"]  # (select reads train.devices too)

    # each rank ran its half of every epoch: a step per ceil(rows / 2 / batch) — a lone process takes twice as many
    rows = len(pd.read_parquet(workspace / "data/label/train.parquet"))
    ddp = json.loads((workspace / "reports/train/metrics.json").read_text())
    per_epoch = math.ceil(math.ceil(rows / 2) / 32)
    assert ddp["step"] + 1 == (ddp["epoch"] + 1) * per_epoch < (ddp["epoch"] + 1) * math.ceil(rows / 32)

    # the model rank 0 saved is as good on the validation split as the single-process one
    assert abs(ddp["val"]["acc"] - single["val"]["acc"]) <= 0.03
    assert abs(ddp["val"]["loss"] - single["val"]["loss"]) <= 0.1
    assert (workspace / "models/train/model.safetensors").exists()
    assert not list(workspace.glob("models/.train.*.tmp")) and not list(workspace.glob("reports/.train.*"))
    assert not re.search(r"Traceback|Error", ran.stdout + ran.stderr)
