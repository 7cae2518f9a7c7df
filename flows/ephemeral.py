"""Prefect's temporary server for a flow run without PREFECT_API_URL, started by millrace instead of Prefect.

It is the same server Prefect would start (`uvicorn prefect.server.api.server:create_app`, its SQLite
database under PREFECT_HOME), with two differences: it is tethered to the flow's process
(flows/tether.py), so a flow killed outright leaves no server behind, and the flow's process does
not import the whole server first, as Prefect's own launcher does (~4.5 s of every ad hoc run).
A flow run from the command line starts it before its own module imports Prefect (`start_early`, from
flows/__init__.py), so that the server's start (~2 s) and that import (~0.9 s) overlap.
"""

from __future__ import annotations

import atexit
import os
import subprocess
import sys
from pathlib import Path

from flows import tether
from millrace.ops.http_ready import free_port, wait_until_answers

STARTUP_SECONDS = 120  # the very first start also creates the database (~20 s on two cores)
ATTEMPTS = 3  # the free port found may be taken before the server binds it


_early: tuple[subprocess.Popen, str] | None = None  # started by start_early, not yet taken


def start_early() -> None:
    """Start the temporary server now, before this process imports Prefect, unless a server may be configured.

    Nothing here imports Prefect: whether its settings name a server is only known once it is imported, so a
    server is started only when no place Prefect reads settings from mentions an API URL; if one did after
    all, `use_temporary_server` stops it. On two cores this takes ~0.6 s off an ad hoc run (4.0 -> 3.5 s).
    """
    global _early
    if _early is None and not server_may_be_configured() and not _workspace_busy():
        _early = _start(free_port())


def _workspace_busy() -> bool:
    """A run that will be refused in a moment (flows/lock.py) starts no server beside the run that holds it."""
    from flows.lock import PipelineBusy, ensure_free

    try:
        ensure_free(Path.cwd())
    except PipelineBusy:
        return True
    return False


def server_may_be_configured() -> bool:
    """Whether the environment or a settings file Prefect reads may name an API URL."""
    if "PREFECT_API_URL" in os.environ or "PREFECT_PROFILES_PATH" in os.environ:
        return True
    home = Path(os.environ.get("PREFECT_HOME", "~/.prefect")).expanduser()
    for path in (home / "profiles.toml", Path("prefect.toml"), Path("pyproject.toml"), Path(".env")):
        try:
            text = path.read_text(errors="replace").lower()
        except OSError:
            continue
        if any(mark in text for mark in ("api_url", "api.url", "[api]", "prefect.api")):
            return True
    return False


def use_temporary_server() -> str | None:
    """Point this process's Prefect at a temporary server, unless PREFECT_API_URL names one; its API URL.

    The server stops when this process exits, after Prefect's own exit handlers have sent the last logs.
    """
    global _early
    from prefect.context import refresh_global_settings_context
    from prefect.settings import get_current_settings

    early, _early = _early, None
    if get_current_settings().api.url:
        if early is not None:
            tether.stop(early[0], 10)
        return None
    failures = []
    for _ in range(ATTEMPTS):
        server, url = early or _start(free_port())
        early = None
        failure = _wait_until_healthy(server, url)
        if failure is None:
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
    server = tether.start(command, env=env)
    atexit.register(tether.stop, server, 10)  # registered before Prefect's handlers: runs after them
    return server, f"http://127.0.0.1:{port}/api"


def _wait_until_healthy(server: subprocess.Popen, url: str) -> str | None:
    """None once the server answers; else why not (it exited, or never answered)."""
    if wait_until_answers(f"{url}/health", server, STARTUP_SECONDS, poll=0.1):
        return None
    if server.poll() is not None:
        return f"it exited with status {server.returncode}"
    tether.stop(server, 10)
    return f"no answer from {url} within {STARTUP_SECONDS} s"
