"""Starting a local HTTP server: a free loopback port, and waiting for the model server, a Prefect server or
a container's app to come up."""

from __future__ import annotations

import socket
import subprocess
import time

import httpx


def free_port() -> int:
    """A loopback port nothing listens on now (the OS's choice)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


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
