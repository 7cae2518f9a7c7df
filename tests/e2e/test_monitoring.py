"""Monitoring with the real server, request log and Prefect flow: ordinary traffic passes the drift
check, heavier penguins than any in training fail it, and the monitoring flow fails with them after
starting the retraining flow."""

import json
import shutil

import httpx
import pandas as pd
import pytest

from tests.e2e.test_serve import start
from tests.helpers.harness import sh, stages_run

pytestmark = pytest.mark.slow

FEATURES = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex"]


def send(url: str, frame: pd.DataFrame) -> None:
    records = json.loads(frame[FEATURES].to_json(orient="records"))
    for start_row in range(0, len(records), 20):
        reply = httpx.post(f"{url}/predict", json={"records": records[start_row : start_row + 20]}, timeout=10)
        assert reply.status_code == 200, reply.text


def test_logged_requests_pass_then_fail_the_drift_check_and_the_flow(workspace):
    # The shared built repo's server (test_serve) logs its requests too; this test counts only its own.
    shutil.rmtree(workspace / "data/monitoring", ignore_errors=True)
    train = pd.read_parquet(workspace / "data/label/train.parquet")
    process, url = start(workspace)
    try:
        send(url, train.sample(120, random_state=0))
        ordinary = sh(workspace, "millrace", "drift", "--fail-on-drift")
        report = json.loads((workspace / "reports/drift.json").read_text())
        assert report["rows"] == 120 and report["drifted"] is False, ordinary.stdout
        send(url, train.sample(200, random_state=1, replace=True).assign(body_mass_g=lambda f: f.body_mass_g + 2500))
    finally:
        process.terminate()
        process.wait(timeout=10)
    shifted = sh(workspace, "millrace", "drift", "--fail-on-drift", check=False)
    assert shifted.returncode == 3 and "**Drifted: " in shifted.stdout
    report = json.loads((workspace / "reports/drift.json").read_text())
    assert "body_mass_g" in report["drifted_features"] and "bill_length_mm" not in report["drifted_features"]

    drifted = ", ".join(report["drifted_features"])  # the predicted classes may have moved with the heavier birds

    flow = sh(workspace, "python", "-m", "flows.monitor", check=False)
    log = flow.stdout + flow.stderr
    assert flow.returncode != 0 and f"drift in {drifted}" in log
    # flows.retrain_on_drift: outside a deployment the retraining flow runs in this process, with fresh data
    assert f"retraining (drift in {drifted})" in log and f"drift in {drifted}: see reports/drift.md; retrained" in log
    assert stages_run(log)[:1] == ["acquire"] and "Flow run" in log
