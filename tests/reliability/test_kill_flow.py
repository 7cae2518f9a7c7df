"""`kill -9` of the flow process while deploy registers the release, then the flow again.

Only the flow's own process is killed, as the OOM killer would: nothing it started may go on running
(the stage's process group, the ephemeral Prefect server). The next run picks up from what DVC
recorded (train and evaluate finished: only deploy runs again), the params.yaml the killed run changed
is put back before the next run applies its own, and exactly one release comes of the two runs,
active, with one promotion in the history. (`kill -9` during train: test_kill_during_train.py.)
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
import yaml

from flows.overrides import RECORD
from millrace.release import registry
from tests.helpers.harness import RELEASES, sh, stages_run, tool_env
from tests.reliability.invariants import assert_invariants

pytestmark = pytest.mark.slow

OVERRIDES = ["-S", "train.lr=0.005", "-S", "deploy.champion_tolerance=1.0"]  # other weights, deployed


def start_flow(workspace: Path, log: Path) -> subprocess.Popen:
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "flows.pipeline", *OVERRIDES, "--no-save"],
            cwd=workspace,
            env=tool_env(workspace),
            stdout=out,
            stderr=subprocess.STDOUT,
        )


def wait_for(condition, process: subprocess.Popen, what: str, seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, f"the flow ended (exit {process.returncode}) before {what}"
        assert time.monotonic() < deadline, f"no {what} after {seconds} s"
        time.sleep(0.01)


def left_running(workspace: Path) -> list[str]:
    """Live processes working in the workspace (a zombie is dead and only waits to be reaped)."""
    alive = []
    for process in psutil.process_iter(["pid", "status", "cmdline", "cwd"]):
        cwd = process.info["cwd"] or ""
        if cwd.startswith(str(workspace)) and process.info["status"] != psutil.STATUS_ZOMBIE:
            alive.append(f"{process.pid}: {' '.join(process.info['cmdline'] or [])}")
    return alive


def kill_flow(flow: subprocess.Popen, workspace: Path) -> None:
    os.kill(flow.pid, signal.SIGKILL)
    flow.wait(timeout=30)
    deadline = time.monotonic() + 15
    while left_running(workspace) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert left_running(workspace) == []


def test_a_flow_killed_during_deploy_then_run_again_deploys_exactly_once(workspace, tmp_path):
    root = workspace / RELEASES
    before, params = registry.versions(root), (workspace / "params.yaml").read_text()
    promotions = len(registry.history(root))

    killed = start_flow(workspace, tmp_path / "killed.log")
    wait_for(lambda: registry.versions(root) != before, killed, "release registered by deploy")
    kill_flow(killed, workspace)
    # select reads train.* (a portfolio's candidates train): it reruns, chooses the same, and train goes on
    assert stages_run((tmp_path / "killed.log").read_text()) == ["select", "train", "evaluate", "deploy"]
    assert "lr: 0.005" in (workspace / "params.yaml").read_text()  # the next run takes it back first

    again = sh(workspace, "python", "-m", "flows.pipeline", *OVERRIDES, "--no-save")
    said = again.stdout + again.stderr
    assert "params.yaml put back as it was before a killed flow run applied its overrides" in said
    assert stages_run(said) == ["deploy"]  # DVC had recorded train and evaluate
    new = [v for v in registry.versions(root) if v not in before]
    assert len(new) == 1 and registry.active(root) == new[0]
    assert [h["to"] for h in registry.history(root)[promotions:]] == new
    expected = yaml.safe_load(params)
    expected["train"]["lr"], expected["deploy"]["champion_tolerance"] = 0.005, 1.0
    assert yaml.safe_load((workspace / "params.yaml").read_text()) == expected  # the last run's overrides, once
    assert "up to date" in sh(workspace, "dvc", "status").stdout
    assert not (workspace / RECORD).exists()
    assert left_running(workspace) == []
    assert_invariants(workspace)
