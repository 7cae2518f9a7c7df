"""`python -m flows.pipeline` (ephemeral Prefect): each DVC stage a task, `-S` overrides, every run a DVC
experiment, artifacts published; a failed gate is not retried, puts params.yaml back and posts to the
webhook; a second run on a busy workspace is refused at once."""

import json
import time

import pytest

from flows.lock import workspace_lock
from tests.helpers import loopback
from tests.helpers.harness import flow_with_a_stage_past_its_timeout, gone, prefect_db, sh, stages_run, tool_env

pytestmark = pytest.mark.slow

STAGES = {"acquire", "clean", "label", "select", "train", "evaluate", "deploy"}


def test_each_stage_is_a_task_and_the_run_is_a_dvc_experiment(workspace):
    result = sh(workspace, "python", "-m", "flows.pipeline", "-S", "deploy.parity_tolerance=0.0002")
    log = result.stdout + result.stderr
    assert stages_run(log) == ["deploy"]  # DVC still decides: only what the override touches reruns
    assert log.count("didn't change, skipping (dvc status)") == 6  # the others were not handed to DVC
    artifacts, tasks, (run_name,) = prefect_db(workspace)
    assert set(tasks) == STAGES and {state for state, _ in tasks.values()} == {"COMPLETED"}

    kind, summary = artifacts["millrace-run"]
    assert kind == "markdown" and "test/accuracy" in summary and "Delivery standard: the model meets it" in summary
    assert "| labels | passed |" in summary and "review.html" in summary
    kind, table = artifacts["millrace-experiments"]
    assert kind == "table" and json.loads(table)[0]["experiment"] == run_name
    assert json.loads(table)[0]["changed"] == "deploy.parity_tolerance=0.0002"

    assert run_name in sh(workspace, "dvc", "exp", "list").stdout  # dvc exp show / millrace compare see it
    manifest = json.loads((workspace / "models/deploy/manifest.json").read_text())
    assert manifest["params"]["deploy"]["parity_tolerance"] == 0.0002
    assert "To track the changes with git" not in log  # DVC's hint, once per stage task, is not repeated

    experiments = sh(workspace, "dvc", "exp", "list").stdout
    again = sh(workspace, "python", "-m", "flows.pipeline", "-S", "deploy.parity_tolerance=0.0002")
    assert stages_run(again.stdout + again.stderr) == []  # the run left it so: nothing to do
    assert (
        "nothing changed (params.yaml and dvc.lock as they were): no new DVC experiment" in again.stdout + again.stderr
    )
    assert sh(workspace, "dvc", "exp", "list").stdout == experiments


def test_a_failed_gate_is_not_retried_restores_params_and_posts_to_the_webhook(workspace):
    params = (workspace / "params.yaml").read_text()
    (workspace / "params.yaml").write_text(params.replace("webhook_env: null", "webhook_env: MILLRACE_WEBHOOK"))
    before = (workspace / "params.yaml").read_text()
    posted: dict[str, list[bytes]] = {}
    with loopback.serve({}, posted) as (url, _):
        result = sh(
            workspace,
            "env",
            f"MILLRACE_WEBHOOK={url}/hook",
            "python",
            "-m",
            "flows.pipeline",
            "-S",
            "gates.labels.min_class_share=0.3",
            check=False,
        )
    log = result.stdout + result.stderr
    assert result.returncode == 1 and "error: stage 'label' failed" in result.stderr
    assert "gate 'labels' failed" in log and stages_run(log) == ["label"]
    _, tasks, _ = prefect_db(workspace)
    assert tasks["label"] == ("FAILED", 1)  # flows.retries is 3, but a gate would fail the same way again
    assert "select" not in tasks
    assert (workspace / "params.yaml").read_text() == before  # the override is gone with the failed run

    (notice,) = posted["/hook"]
    notice = json.loads(notice)
    assert notice["event"] == "run_failed" and notice["flow"] == "millrace-pipeline"
    assert "gate 'labels' failed" in notice["text"]


def test_a_second_run_on_a_busy_workspace_is_refused_at_once(workspace):
    with workspace_lock(workspace, "flow run 'first'"):
        started = time.monotonic()
        result = sh(workspace, "python", "-m", "flows.pipeline", check=False)
        waited = time.monotonic() - started
    assert result.returncode == 1
    assert "pipeline busy: flow run 'first' (pid" in result.stderr
    assert stages_run(result.stdout + result.stderr) == [] and waited < 60
    assert "Starting temporary server" not in result.stdout + result.stderr  # refused before Prefect started


def test_a_stage_past_its_timeout_is_stopped_with_what_it_started(workspace):
    result, sleeper = flow_with_a_stage_past_its_timeout(workspace, tool_env(workspace))
    assert result.returncode == 1
    assert "stage 'deploy' ran longer than flows.stage_timeout_seconds (3 s) and was stopped" in result.stderr
    assert gone(sleeper)
    _, tasks, _ = prefect_db(workspace)
    assert tasks["deploy"][0] == "FAILED" and tasks["evaluate"][0] == "COMPLETED"
