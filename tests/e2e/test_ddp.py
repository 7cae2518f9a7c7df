"""Lightning DDP on this machine: two CPU processes (gloo) train through the real `dvc repro`, each on its
half of every epoch, and the model matches the single-process one within tolerance."""

import json
import math
import re

import pandas as pd
import pytest

from tests.harness import set_param, sh, stages_run

pytestmark = pytest.mark.slow


def test_ddp_on_two_cpu_processes_matches_a_single_process_run(workspace):
    single = json.loads((workspace / "reports/evaluate/metrics.json").read_text())["test"]
    set_param(workspace, r"^  accelerator: .*$", "  accelerator: cpu")
    set_param(workspace, r"^  devices: .*$", "  devices: 2")
    set_param(workspace, r"^  strategy: auto( +# Lightning's.*)$", r"  strategy: ddp\1")
    ran = sh(workspace, "dvc", "repro", "evaluate")
    assert stages_run(ran.stdout)[-2:] == ["train", "evaluate"]  # select reads train.devices too

    # each rank ran its half of every epoch: a step per ceil(rows / 2 / batch) — a lone process takes twice as many
    rows = len(pd.read_parquet(workspace / "data/label/train.parquet"))
    trained = json.loads((workspace / "reports/train/metrics.json").read_text())
    per_epoch = math.ceil(math.ceil(rows / 2) / 32)
    assert trained["step"] + 1 == (trained["epoch"] + 1) * per_epoch < (trained["epoch"] + 1) * math.ceil(rows / 32)

    ddp = json.loads((workspace / "reports/evaluate/metrics.json").read_text())["test"]
    assert abs(ddp["accuracy"] - single["accuracy"]) <= 0.03 and abs(ddp["f1_macro"] - single["f1_macro"]) <= 0.05
    assert not list(workspace.glob("models/.train.*.tmp")) and not list(workspace.glob("reports/.train.*"))
    assert not re.search(r"Traceback|Error", ran.stdout + ran.stderr)
