"""`python -m flows.pipeline`: each DVC stage a Prefect task, metrics published as an artifact."""

import json
import sqlite3

import pytest

from tests.harness import set_param, sh

pytestmark = pytest.mark.slow


def prefect_state(repo):
    """What the flow run left in Prefect's own database (the ephemeral server's SQLite file)."""
    with sqlite3.connect(repo / ".prefect" / "prefect.db") as db:
        artifacts = [row[0] for row in db.execute("select data from artifact where key = 'millrace-metrics'")]
        tasks = dict(db.execute("select name, state_type from task_run"))
    return artifacts, tasks


def test_flow_runs_each_stage_as_a_task_and_publishes_metrics(workspace):
    set_param(workspace, r"^  parity_tolerance: .*$", "  parity_tolerance: 0.0002")  # so deploy really runs
    result = sh(workspace, "python", "-m", "flows.pipeline")
    log = result.stdout + result.stderr
    for stage in ("acquire", "clean", "label", "select", "train", "evaluate", "deploy"):
        assert f"Task run '{stage}-" in log
    assert "Running stage 'deploy'" in log and "Running stage 'train'" not in log
    assert "Flow run" in log and "Finished in state Completed()" in log

    artifacts, tasks = prefect_state(workspace)
    assert len(artifacts) == 1 and "test/accuracy" in artifacts[0] and "Delivery standard" in artifacts[0]
    assert set(tasks.values()) == {"COMPLETED"}
    assert {name.rsplit("-", 1)[0] for name in tasks} == {
        "acquire",
        "clean",
        "label",
        "select",
        "train",
        "evaluate",
        "deploy",
    }
    manifest = json.loads((workspace / "models/deploy/manifest.json").read_text())
    assert manifest["params"]["deploy"]["parity_tolerance"] == 0.0002


def test_a_failed_gate_fails_the_flow_and_skips_later_stages(workspace):
    set_param(workspace, r"^    min_class_share: .*$", "    min_class_share: 0.3")
    result = sh(workspace, "python", "-m", "flows.pipeline", check=False)
    log = result.stdout + result.stderr
    assert result.returncode != 0
    assert "gate 'labels' failed" in log
    assert "Task run 'select-" not in log
