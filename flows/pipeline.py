"""The pipeline as a Prefect flow: each DVC stage is a Prefect task, in dvc.yaml's order.

Each task runs `dvc repro --single-item <stage>`, so DVC still decides whether the stage is up
to date and Prefect shows per-stage state, duration and logs. The flow holds no ML logic and
re-declares no deps or outs: stage names come from dvc.yaml. When the run succeeds it publishes
the test metrics and the delivery decision as a markdown artifact.
Run: `python -m flows.pipeline` (an ephemeral Prefect server unless PREFECT_API_URL is set).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from collections import deque
from pathlib import Path
from typing import Any

import yaml
from prefect import flow, get_run_logger, task
from prefect.artifacts import create_markdown_artifact

QUIET_ENV = {"GX_ANALYTICS_ENABLED": "false", "DO_NOT_TRACK": "1", "PREFECT_SERVER_ANALYTICS_ENABLED": "false"}


def dvc_executable() -> str:
    beside = Path(sys.executable).with_name("dvc")
    return str(beside) if beside.exists() else (shutil.which("dvc") or "dvc")


def stage_names(repo: Path) -> list[str]:
    """The stages in the order dvc.yaml declares them (which is the pipeline's order)."""
    return list(yaml.safe_load((repo / "dvc.yaml").read_text())["stages"])


@task(retries=0)
def run_stage(stage: str, repo: str) -> None:
    """One DVC stage; a failure (a failed gate included) fails the task and stops the flow."""
    logger = get_run_logger()
    command = [dvc_executable(), "repro", "--single-item", stage]
    process = subprocess.Popen(
        command,
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **QUIET_ENV},
    )
    tail: deque[str] = deque(maxlen=20)
    assert process.stdout is not None
    for line in process.stdout:
        line = line.rstrip()
        if line:
            logger.info(line)
            tail.append(line)
    if process.wait() != 0:
        details = "\n".join(tail)
        raise RuntimeError(f"stage {stage!r} failed (dvc exit {process.returncode}):\n{details}")


def metrics_markdown(repo: Path) -> tuple[str, dict[str, Any]]:
    evaluation = json.loads((repo / "reports" / "evaluate" / "metrics.json").read_text())
    rows = [f"| test/{k} | {v:.4f} |" for k, v in evaluation["test"].items() if isinstance(v, float)]
    decision = evaluation["delivery"]
    verdict = "meets" if decision["passed"] else "does **not** meet"
    markdown = "\n".join(
        [
            "# millrace run",
            "",
            "| metric | value |",
            "|---|---|",
            *rows,
            "",
            f"Delivery standard: the model {verdict} it ({'; '.join(decision['reasons'])}).",
        ]
    )
    return markdown, evaluation


@flow(name="millrace-pipeline", log_prints=True)
def pipeline(repo: str = ".") -> dict[str, Any]:
    """Run every stage in order; publish the test metrics as an artifact."""
    root = Path(repo).resolve()
    for stage in stage_names(root):
        run_stage.with_options(name=stage)(stage, str(root))
    markdown, evaluation = metrics_markdown(root)
    create_markdown_artifact(key="millrace-metrics", markdown=markdown, description="test metrics")
    return evaluation


if __name__ == "__main__":
    for key, value in QUIET_ENV.items():
        os.environ.setdefault(key, value)
    pipeline()
