"""The deployments against a real Prefect server on a free loopback port (flows/deployments.py).

`serve --start-server` (what `make serve-flows` runs): the deployments are registered, a schedule
produces a drift-check run that completes, and a triggered pipeline run whose data URL fails twice
retries acquire with backoff and completes. Then `worker`: the same deployments on a process work
pool, executed by a real Prefect worker.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pandas as pd
import pytest

from millrace.ops.http_ready import answers, free_port
from tests.helpers import loopback
from tests.helpers.harness import tool_env

pytestmark = pytest.mark.slow

WAIT_SECONDS = 180


def prefect_env(repo: Path, port: int) -> dict[str, str]:
    return {
        **tool_env(repo),
        "PREFECT_API_URL": f"http://127.0.0.1:{port}/api",
        "PREFECT_SERVER_SERVICES_SCHEDULER_LOOP_SECONDS": "1",  # schedules become runs within a second
        "PREFECT_RUNNER_POLL_FREQUENCY": "1",
        "PREFECT_WORKER_QUERY_SECONDS": "1",
    }


@contextmanager
def running(repo: Path, env: dict[str, str], log: Path, *command: str) -> Iterator[subprocess.Popen]:
    with open(log, "wb") as out:
        process = subprocess.Popen(
            command, cwd=repo, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        yield process
    finally:
        os.killpg(process.pid, signal.SIGINT)  # as Ctrl-C would: the command stops its server and runs
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def stops_answering(url: str, seconds: float) -> bool:
    """Nothing answers at `url` within `seconds` (a loaded machine takes a moment to end a killed server)."""
    deadline = time.monotonic() + seconds
    while answers(url, timeout=1.0):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.2)
    return True


def api(port: int, path: str, body: dict | None = None) -> list | dict:
    reply = httpx.post(f"http://127.0.0.1:{port}/api{path}", json=body or {}, timeout=10)
    reply.raise_for_status()
    return reply.json()


def wait_for(what: str, found: Callable[[], object], log: Path) -> object:
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        try:
            result = found()
        except httpx.HTTPError:
            result = None
        if result:
            return result
        time.sleep(0.5)
    raise AssertionError(f"gave up waiting for {what}; the log says:\n{log.read_text(errors='replace')[-4000:]}")


def finished(port: int, flow: str, **match: object) -> dict | None:
    """The latest finished run of `flow` whose fields have the `match` values."""
    done = {"state": {"type": {"any_": ["COMPLETED", "FAILED", "CRASHED"]}}}
    body = {"flows": {"name": {"any_": [flow]}}, "flow_runs": done, "sort": "END_TIME_DESC", "limit": 50}
    return next((run for run in api(port, "/flow_runs/filter", body) if match.items() <= run.items()), None)


def task_runs(port: int, flow_run_id: str) -> dict[str, dict]:
    runs = api(port, "/task_runs/filter", {"flow_runs": {"id": {"any_": [flow_run_id]}}})
    return {run["name"].rsplit("-", 1)[0]: run for run in runs}


def test_deployments_on_a_real_server_scheduled_triggered_retried_and_on_a_work_pool(workspace, tmp_path):
    params = (workspace / "params.yaml").read_text()
    penguins = pd.read_parquet(workspace / "data/acquire/raw.parquet").to_csv(index=False).encode()
    with loopback.serve({"/penguins.csv": loopback.fails_then(2, loopback.body(penguins))}) as (url, calls):
        source = f"  source:\n    kind: url\n    url: {url}/penguins.csv\n    retries: 0   # the flow retries"
        params = re.sub(r"^  source:\n(    .*\n)+", source + "\n", params, count=1, flags=re.MULTILINE)
        params = re.sub(r"^  drift: \{.*\}", "  drift: {interval_seconds: 10}", params, count=1, flags=re.MULTILINE)
        params = params.replace("retry_backoff_seconds: 30", "retry_backoff_seconds: 1")
        (workspace / "params.yaml").write_text(params)
        port = free_port()
        env = prefect_env(workspace, port)
        log = tmp_path / "serve.log"
        serve = ("python", "-m", "flows.deployments", "serve", "--start-server", "--port", str(port))
        with running(workspace, env, log, *serve):
            names = {"on-demand", "nightly", "hourly"}
            wait_for("the deployments", lambda: {d["name"] for d in api(port, "/deployments/filter")} == names, log)

            # a triggered run: acquire's URL answers 503 twice, the task is retried, the run completes
            trigger = ["prefect", "deployment", "run", "millrace-pipeline/on-demand", "-p", "until=clean"]
            subprocess.run(trigger, cwd=workspace, env=env, check=True, capture_output=True, timeout=120)
            # meanwhile a schedule produces a drift-check run, and the served process executes it too
            drift = wait_for(
                "a scheduled drift check", lambda: finished(port, "millrace-drift", auto_scheduled=True), log
            )
            assert drift["state_type"] == "COMPLETED", drift["state"]
            run = wait_for("the triggered pipeline run", lambda: finished(port, "millrace-pipeline"), log)
            assert run["state_type"] == "COMPLETED", (run["state"], log.read_text()[-3000:])
            assert run["parameters"]["until"] == "clean" and run["auto_scheduled"] is False
            tasks = task_runs(port, run["id"])
            assert set(tasks) == {"acquire", "clean"}
            assert tasks["acquire"]["run_count"] == 3 and tasks["clean"]["run_count"] == 1
            assert calls["/penguins.csv"] == 3
        # stopping the command stopped its server (even when the command had to be killed: the server is tethered)
        assert stops_answering(f"http://127.0.0.1:{port}/api/health", seconds=10)

        # the same deployments on a process work pool, executed by a Prefect worker
        log = tmp_path / "worker.log"
        worker = ("python", "-m", "flows.deployments", "worker", "--start-server", "--port", str(port))
        with running(workspace, env, log, *worker):
            wait_for("the worker", lambda: "started!" in log.read_text(), log)
            drift = ["prefect", "deployment", "run", "millrace-drift/hourly"]
            subprocess.run(drift, cwd=workspace, env=env, check=True, capture_output=True, timeout=120)
            run = wait_for(
                "a drift check on the work pool",
                lambda: finished(port, "millrace-drift", work_pool_name="millrace", state_type="COMPLETED"),
                log,
            )
            assert run["work_queue_name"] == "default"
        assert "Worker 'ProcessWorker" in log.read_text()
