"""The real pipeline through the warm worker (MILLRACE_WARM=1): every stage runs in it, and what it
makes is what the cold run made."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
import yaml

from tests.harness import tool_env

pytestmark = pytest.mark.slow

STAGES = ["acquire", "clean", "label", "select", "train", "evaluate", "deploy"]
# Outputs that differ between any two runs: GE's results carry their run time, a release its
# version and time, and a TorchScript file its serialisation id and the stack that scripted it.
DIFFER_EVERY_RUN = {
    "reports/gates/raw.ge.json",
    "reports/gates/clean.ge.json",
    "reports/gates/labels.ge.json",
    "reports/deploy.json",
    "models/deploy",
}


def outputs(repo: Path) -> dict[str, str]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {out["path"]: out["md5"] for stage in lock["stages"].values() for out in stage.get("outs", [])}


def test_every_stage_runs_in_the_worker_and_makes_what_a_cold_run_made(built_repo, workspace):
    folder = Path(tempfile.mkdtemp(prefix="mw", dir="/tmp"))  # the worker's socket path must stay short
    env = {**tool_env(workspace), "MILLRACE_WARM": "1", "TMPDIR": str(folder)}
    python = str(Path(sys.executable))
    try:
        # A command that finds no worker runs cold and starts one. The run begins at once, as `make run`
        # after an idle spell does: the first stages are served while the worker is still preloading.
        subprocess.run([python, "-m", "stages.acquire", "--help"], cwd=workspace, env=env, check=True)
        run = subprocess.run(
            ["dvc", "repro", "--force"], cwd=workspace, env=env, capture_output=True, text=True, timeout=600
        )
        assert run.returncode == 0, run.stdout + run.stderr
        (log,) = folder.glob("millrace-warm-*/*.log")
        deadline = time.monotonic() + 300
        while "ready: preloaded" not in log.read_text():
            assert time.monotonic() < deadline, "the warm worker never finished preloading"
            time.sleep(0.5)
        assert "great_expectations" in log.read_text() and "lightning" in log.read_text()

        jobs = [line.split() for line in log.read_text().splitlines() if line.endswith(f" in {workspace}")]
        assert {job[1] for job in jobs} == {f"stages.{name}" for name in STAGES}
        cold, warm = outputs(built_repo), outputs(workspace)
        assert cold.keys() == warm.keys()
        assert {path for path in cold if cold[path] != warm[path]} <= DIFFER_EVERY_RUN
    finally:
        subprocess.run([python, "-m", "stages.warm", "stop"], cwd=workspace, env=env, capture_output=True)
        shutil.rmtree(folder, ignore_errors=True)
