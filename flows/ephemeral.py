"""Prefect's temporary server for a flow run without PREFECT_API_URL, started by millrace instead of Prefect.

It is the same server Prefect would start (`uvicorn prefect.server.api.server:create_app`, its SQLite
database under PREFECT_HOME), with two differences: it is tethered to the flow's process
(flows/tether.py), so a flow killed outright leaves no server behind, and the flow's process does
not import the whole server first, as Prefect's own launcher does (~4.5 s of every ad hoc run).
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys

from flows import tether
from stages.http_ready import free_port, wait_until_answers

STARTUP_SECONDS = 120  # the very first start also creates the database (~20 s on two cores)
ATTEMPTS = 3  # the free port found may be taken before the server binds it


def use_temporary_server() -> str | None:
    """Point this process's Prefect at a temporary server, unless PREFECT_API_URL names one; its API URL.

    The server stops when this process exits, after Prefect's own exit handlers have sent the last logs.
    """
    from prefect.context import refresh_global_settings_context
    from prefect.settings import get_current_settings

    if get_current_settings().api.url:
        return None
    failures = []
    for _ in range(ATTEMPTS):
        server, url = _start(free_port())
        failure = _wait_until_healthy(server, url)
        if failure is None:
            atexit.register(tether.stop, server, 10)  # registered before Prefect's handlers: runs after them
            os.environ["PREFECT_API_URL"] = url
            refresh_global_settings_context()
            return url
        failures.append(failure)
    raise RuntimeError(f"Prefect's temporary server did not start: {'; '.join(failures)}")


def _start(port: int) -> tuple[subprocess.Popen, str]:
    command = [sys.executable, "-m", "uvicorn", "--factory", "prefect.server.api.server:create_app"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "error", "--lifespan", "on"]
    # As Prefect's own launcher: no UI, and the server knows it is a temporary one.
    env = {**os.environ, "PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
    return tether.start(command, env=env), f"http://127.0.0.1:{port}/api"


def _wait_until_healthy(server: subprocess.Popen, url: str) -> str | None:
    """None once the server answers; else why not (it exited, or never answered)."""
    if wait_until_answers(f"{url}/health", server, STARTUP_SECONDS, poll=0.1):
        return None
    if server.poll() is not None:
        return f"it exited with status {server.returncode}"
    tether.stop(server, 10)
    return f"no answer from {url} within {STARTUP_SECONDS} s"
