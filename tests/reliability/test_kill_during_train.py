"""`kill -9` of the whole `dvc repro` process group during train, then `dvc repro` again.

The rerun resumes from the last finished epoch and ends with the very weights an uninterrupted
run (another process) produced, deterministic on CPU, so nothing downstream reruns; no process of the
killed group survives; nothing partial is left behind; DVC records only what exists.
"""

import os
import signal
import subprocess
import time

import pytest

from millrace.files import sha256
from tests.helpers.harness import sh, stages_run, tool_env
from tests.reliability.invariants import assert_invariants

pytestmark = pytest.mark.slow


def _survivors(group: int) -> list[str]:
    """Live processes of the group; a zombie is dead and only waits for a parent to reap it."""
    import psutil

    alive = []
    for process in psutil.process_iter(["pid", "status", "cmdline"]):
        try:
            if os.getpgid(process.pid) == group and process.info["status"] != psutil.STATUS_ZOMBIE:
                alive.append(" ".join(process.info["cmdline"] or []))
        except (ProcessLookupError, psutil.Error):
            continue
    return alive


def test_kill_9_during_train_then_repro_resumes_to_the_same_weights(workspace, built_repo):
    expected = sha256(built_repo / "models/train/model.safetensors")
    last = workspace / ".millrace/resume/train/last.ckpt"
    run = subprocess.Popen(
        ["dvc", "repro", "--force", "--single-item", "train"],
        cwd=workspace,
        env=tool_env(workspace),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # its own process group, so the kill reaches every child
    )
    deadline = time.monotonic() + 120
    while not last.exists() and run.poll() is None and time.monotonic() < deadline:
        time.sleep(0.01)
    assert run.poll() is None, "train finished before it could be interrupted"
    os.killpg(run.pid, signal.SIGKILL)
    run.wait(timeout=30)
    deadline = time.monotonic() + 10  # SIGKILL is sent at once; a loaded machine takes a moment to act on it
    while _survivors(run.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert _survivors(run.pid) == []

    rerun = sh(workspace, "dvc", "repro")
    said = rerun.stdout + rerun.stderr
    assert "resuming the interrupted run" in said
    assert sha256(workspace / "models/train/model.safetensors") == expected
    # The very weights: evaluate and deploy, which depend on the model's files, stay up to date.
    assert stages_run(rerun.stdout) == ["train"]
    assert not (workspace / ".millrace/resume/train").exists()
    assert "up to date" in sh(workspace, "dvc", "status").stdout
    leftovers = [p for p in (workspace / "models").rglob("*.tmp")] + list((workspace / "reports").rglob("*.tmp"))
    assert leftovers == []
    assert_invariants(workspace)
