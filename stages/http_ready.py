"""Waiting for a local HTTP server to come up: the model server, a Prefect server, a container's app."""

from __future__ import annotations

import subprocess
import time

import httpx


def answers(url: str, timeout: float = 2.0) -> bool:
    """GET `url` answers 200 (a refused connection or a timeout is simply "not yet")."""
    try:
        return httpx.get(url, timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def wait_until_answers(
    url: str, process: subprocess.Popen | None = None, seconds: float = 60.0, poll: float = 0.2
) -> bool:
    """Poll `url` until it answers 200 (True), `process` exits or `seconds` pass (False)."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if answers(url, timeout=1.0):
            return True
        if process is not None and process.poll() is not None:
            return False
        time.sleep(poll)
    return False
