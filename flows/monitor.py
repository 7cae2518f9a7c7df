"""The drift check as a Prefect flow, for an hourly schedule beside the served model.

One task runs `python -m millrace.ops.drift` (the check itself lives in millrace/ops/drift.py) and the flow
publishes its report as a markdown artifact. Drift (a feature's PSI over monitor.psi_threshold)
starts the retraining flow when `flows.retrain_on_drift` is set: the retraining deployment when
this run belongs to a deployment (it runs wherever that deployment's runs execute), else the
retraining flow in this process. Then the flow fails, so Prefect's UI, notifications and
automations see the drift. Too few logged requests is a completed run with no verdict.
Run: `python -m flows.monitor` (an ephemeral Prefect server unless PREFECT_API_URL is set).
"""

from __future__ import annotations

if __name__ == "__main__":  # run as a command: settings first, before Prefect is imported (flows/__init__.py)
    from flows import prepare_command

    prepare_command()

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import acreate_markdown_artifact
from prefect.runtime import deployment

from flows import notify, run_by_hand
from flows.ephemeral import use_temporary_server
from flows.retrain import DEPLOYMENT as RETRAIN_DEPLOYMENT
from flows.retrain import retrain
from millrace.config.params import load_params
from millrace.environment import QUIET_ENV

DRIFTED = 3  # millrace.ops.drift's exit status with --fail-on-drift


@task(retries=0)
def check_drift(repo: str) -> int:
    """Run the drift check; its exit status says whether anything drifted."""
    result = subprocess.run(
        [sys.executable, "-m", "millrace.ops.drift", "--fail-on-drift"],
        cwd=repo,
        capture_output=True,
        text=True,
        env={**os.environ, **QUIET_ENV},
    )
    logger = get_run_logger()
    for line in (result.stdout + result.stderr).splitlines():
        if line.strip():
            logger.info(line)
    if result.returncode not in (0, DRIFTED):
        raise RuntimeError(f"the drift check failed (exit {result.returncode}): {result.stderr.strip()[-500:]}")
    return result.returncode


async def start_retraining(root: Path, reason: str) -> str:
    """The retraining deployment when this run has one (without waiting for it), else the flow here."""
    if deployment.get_id():
        from prefect.deployments.flow_runs import arun_deployment

        parameters = {"repo": str(root), "reason": reason}
        started = await arun_deployment(RETRAIN_DEPLOYMENT, parameters=parameters, timeout=0)
        return f"retraining run {started.name!r} of {RETRAIN_DEPLOYMENT} started"
    await retrain(repo=str(root), reason=reason)
    return "retrained in this run"


# Async as flows.pipeline is, for the same reason (Prefect does not wait on an async run's heartbeat).
@flow(name="millrace-drift", log_prints=True, on_failure=[notify.on_failure])
async def monitor(repo: str = ".") -> dict[str, Any]:
    root = Path(repo).resolve()
    params = load_params(root / "params.yaml")
    reports = root / params.paths.reports
    status = check_drift(str(root))
    report = json.loads((reports / "drift.json").read_text())
    await acreate_markdown_artifact(
        key="millrace-drift", markdown=(reports / "drift.md").read_text(), description="drift check"
    )
    if status == DRIFTED:
        drifted = ", ".join(report["drifted_features"])
        then = ""
        if params.flows.retrain_on_drift:
            then = "; " + await start_retraining(root, f"drift in {drifted}")
        raise RuntimeError(f"drift in {drifted}: see reports/drift.md{then}")
    return report


if __name__ == "__main__":
    use_temporary_server()
    run_by_hand(monitor())
