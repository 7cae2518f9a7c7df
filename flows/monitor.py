"""The drift check as a Prefect flow, for an hourly schedule beside the served model.

One task runs `python -m stages.drift` (the check itself lives in stages/drift.py) and the flow
publishes its report as a markdown artifact. A drifted feature fails the flow, so Prefect's
UI, notifications and automations see it; too few logged requests is a completed run with no
verdict. Run: `python -m flows.monitor` (an ephemeral Prefect server unless PREFECT_API_URL is set).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

from flows.pipeline import QUIET_ENV

DRIFTED = 3  # stages.drift's exit status with --fail-on-drift


@task(retries=0)
def check_drift(repo: str) -> int:
    """Run the drift check; its exit status says whether anything drifted."""
    result = subprocess.run(
        [sys.executable, "-m", "stages.drift", "--fail-on-drift"],
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


@flow(name="millrace-drift", log_prints=True)
def monitor(repo: str = ".") -> dict[str, Any]:
    root = Path(repo).resolve()
    status = check_drift(str(root))
    report = json.loads((root / "reports" / "drift.json").read_text())
    create_markdown_artifact(
        key="millrace-drift", markdown=(root / "reports" / "drift.md").read_text(), description="drift check"
    )
    if status == DRIFTED:
        raise RuntimeError(f"drift in {', '.join(report['drifted_features'])}: see reports/drift.md")
    return report


if __name__ == "__main__":
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    monitor()
