"""Processes that die with the flow: `python -m flows.tether PID -- COMMAND …` runs COMMAND until PID is gone.

A stage runs in a process group of its own, so that a timeout or a cancel stops all of it
(flows/stage_task.py). That group would outlive the flow if the flow were killed outright (kill -9,
the OOM killer), and go on writing to the workspace that the next run uses. This process leads the
group: it runs the command and, once the flow (PID) is gone, kills the whole group. Prefect's
temporary server (a flow run without PREFECT_API_URL) is a plain child of the flow too, and is
tethered the same way (`tether_ephemeral_server`).
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys

POLL_SECONDS = 0.2


def run(parent: int, command: list[str]) -> int:
    child = subprocess.Popen(command)
    leader = os.getpgrp() == os.getpid()  # a stage: its own group; the Prefect server: in the flow's group

    def orphaned(*_: object) -> None:
        if leader:
            os.killpg(os.getpgrp(), signal.SIGKILL)  # this process too
        child.kill()
        os._exit(128 + signal.SIGKILL)

    # SIGTERM: the command decides what it means, and this process waits. A stage's group gets it as a whole;
    # the server's tether alone gets it (Prefect's stop) and passes it on. SIGKILL needs no help. SIGINT from a
    # terminal reaches the command itself, in the terminal's group.
    signal.signal(signal.SIGTERM, lambda *_: None if leader else child.send_signal(signal.SIGTERM))
    signal.signal(signal.SIGINT, lambda *_: None)
    if leader:
        # At once on Linux, rather than at the next poll. Only for a stage: the signal comes when the *thread*
        # that started this process ends, and a stage's thread waits for it, while the server's need not.
        signal.signal(signal.SIGUSR1, orphaned)
        _signal_on_parent_death(signal.SIGUSR1)
    while True:
        try:
            status = child.wait(timeout=POLL_SECONDS)
            return status if status >= 0 else 128 - status
        except subprocess.TimeoutExpired:
            if os.getppid() != parent:  # the flow died: this process was handed to init or a subreaper
                orphaned()


def _signal_on_parent_death(signum: int) -> None:
    if sys.platform.startswith("linux"):
        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signum)


def tethered(command: list[str]) -> list[str]:
    """COMMAND, run so that it ends when this process does."""
    return [sys.executable, "-m", "flows.tether", str(os.getpid()), "--", *command]


def tether_ephemeral_server() -> None:
    """Have Prefect start its temporary server tethered to this process (it starts it only when needed).

    Prefect looks its server up by port, None for "any free one"; the instance registered here is the
    one it will find and start. The command and environment are prefect 3.8.8's own (pinned).
    """
    from prefect.server.api import server
    from prefect.settings import get_current_settings

    class TetheredServer(server.SubprocessASGIServer):
        def _run_uvicorn_command(self) -> subprocess.Popen:
            uvicorn = ["-m", "uvicorn", "--app-dir", str(server.prefect.__module_path__.parent), "--factory"]
            uvicorn += ["prefect.server.api.server:create_app", "--host", "127.0.0.1", "--port", str(self.port)]
            uvicorn += ["--log-level", "error", "--lifespan", "on"]
            quiet = {"PREFECT_UI_ENABLED": "0", "PREFECT__SERVER_EPHEMERAL": "1", "PREFECT__SERVER_FINAL": "1"}
            settings = get_current_settings().to_environment_variables(exclude_unset=True)
            return subprocess.Popen(tethered([sys.executable, *uvicorn]), env={**os.environ, **quiet, **settings})

    if None not in server.SubprocessASGIServer._instances:
        TetheredServer()


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: python -m flows.tether PARENT_PID -- COMMAND [ARGS…]")
    return run(int(argv[0]), argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
