"""End-to-end harness: a temporary copy of the repo, its own git history, the real tools.

The fixtures built on it (`built_repo`, `workspace`) live in tests/conftest.py so that the
end-to-end and the reliability tests share one pipeline run per session.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

from millrace.environment import QUIET_ENV
from tests.conftest import ROOT

BIN = Path(sys.executable).parent
RELEASES = "models/releases/penguins-species"  # the default model's home in the release registry
REVIEWS = ("reports/review_verdicts.csv", "reports/review_preferences.csv")  # reviewers' files: inputs


def tool_env(home: Path) -> dict[str, str]:
    env = {
        **os.environ,
        "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}",
        **QUIET_ENV,
        "PREFECT_HOME": str(home / ".prefect"),
        "GIT_AUTHOR_NAME": "millrace tests",
        "GIT_AUTHOR_EMAIL": "tests@millrace.invalid",
        "GIT_COMMITTER_NAME": "millrace tests",
        "GIT_COMMITTER_EMAIL": "tests@millrace.invalid",
        "PYTHONPATH": "",
    }
    env.pop("PREFECT_API_URL", None)
    return env


def sh(repo: Path, *args: str, check: bool = True, timeout: int = 600) -> subprocess.CompletedProcess:
    """Run a command in `repo` with the project's tools first on PATH; output is captured."""
    result = subprocess.run(args, cwd=repo, env=tool_env(repo), capture_output=True, text=True, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} exited {result.returncode}\n{result.stdout}\n{result.stderr}")
    return result


def stages_run(output: str) -> list[str]:
    return re.findall(r"Running stage '([^']+)'", output)


def copy_project(destination: Path) -> Path:
    """What a fresh clone would hold: tracked and untracked-but-not-ignored files, no outputs."""
    listed = (
        subprocess.run(
            ["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True, check=True
        )
        .stdout.decode()
        .split("\0")
    )
    for name in filter(None, listed):
        source = ROOT / name
        output = name.startswith(("reports/", "models/")) and name not in REVIEWS  # an input
        if source.is_file() and not output and name != "dvc.lock":
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    sh(destination, "git", "init", "-q", "-b", "main")
    sh(destination, "git", "add", "-A")
    sh(destination, "git", "commit", "-qm", "copy of millrace")
    return destination


def commit_all(repo: Path, message: str) -> None:
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-qm", message)


def set_param(repo: Path, pattern: str, replacement: str) -> None:
    """Edit params.yaml as a user would, keeping its comments; the pattern must match once."""
    path = repo / "params.yaml"
    text, count = re.subn(pattern, replacement, path.read_text(), flags=re.MULTILINE)
    assert count == 1, f"{pattern!r} matched {count} times in params.yaml"
    path.write_text(text)


def prefect_db(repo):
    """What the flow run left in Prefect's own database (the ephemeral server's SQLite file)."""
    with sqlite3.connect(repo / ".prefect" / "prefect.db") as db:
        artifacts = {
            key: (kind, json.loads(data)) for key, kind, data in db.execute("select key, type, data from artifact")
        }
        tasks = {
            name.rsplit("-", 1)[0]: (state, runs)
            for name, state, runs in db.execute("select name, state_type, run_count from task_run")
        }
        flow_runs = [row[0] for row in db.execute("select name from flow_run")]
    return artifacts, tasks, flow_runs


# A stage command that starts a long sleep, writes its pid to sleeper.pid and waits for it.
SLEEPING_STAGE = "bash -c 'sleep 300 & echo $! > sleeper.pid; wait'"


def flow_with_a_stage_past_its_timeout(repo: Path, env: dict[str, str]) -> tuple[subprocess.CompletedProcess, int]:
    """The flow, with deploy made a command that starts a long sleep and waits for it, and a 3 s stage
    timeout; returns the flow's result and the sleep's pid (which must be gone by then)."""
    dvc_yaml = repo / "dvc.yaml"
    dvc_yaml.write_text(dvc_yaml.read_text().replace("cmd: python -m stages.deploy", f"cmd: {SLEEPING_STAGE}"))
    command = [sys.executable, "-m", "flows.pipeline", "--no-save", "-S", "flows.stage_timeout_seconds=3"]
    result = subprocess.run(command, cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    return result, int((repo / "sleeper.pid").read_text())


def running(pid: int) -> bool:
    """Alive and not a zombie (a dead orphan waits for whoever reaps it, which may never come here)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(")")[-1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def gone(pid: int, seconds: float = 10) -> bool:
    """The process ends within seconds (SIGKILL is sent at once but a loaded machine takes a moment to act on it)."""
    deadline = time.monotonic() + seconds
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    return not running(pid)
