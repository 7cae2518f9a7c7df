"""Process groups that die with the flow: `python -m flows.tether PID -- COMMAND …` runs COMMAND until PID is gone.

A flow's stages (flows/stage_task.py) and its temporary Prefect server (flows/ephemeral.py) each run
in a process group of their own, so that a timeout, a cancel or the end of the run stops all of it
(`start` and `stop`). Such a group would outlive the flow if the flow were killed outright (kill -9,
the OOM killer): a stage would go on writing to the workspace that the next run uses. This process
leads the group: it runs the command and, the moment the flow (PID) is gone, kills the whole group.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from typing import Any

POLL_SECONDS = 0.2  # where the operating system cannot say at once that the flow is gone


def signal_on_parent_death(signum: int) -> None:
    """Linux sends this process SIGNUM the moment the thread that started it ends; elsewhere nothing does."""
    if sys.platform.startswith("linux"):
        import ctypes

        PR_SET_PDEATHSIG = 1
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_PDEATHSIG, signum)


def start(command: list[str], **popen: Any) -> subprocess.Popen:
    """COMMAND in a new process group led by a tether to this process."""
    tether = [sys.executable, "-m", "flows.tether", str(os.getpid()), "--", *command]
    return subprocess.Popen(tether, start_new_session=True, **popen)


def stop(process: subprocess.Popen, grace_seconds: float) -> None:
    """SIGTERM the group, SIGKILL whatever is still there after the grace period."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(process.pid, sig)
        except ProcessLookupError:
            return
        try:
            process.wait(timeout=grace_seconds)
            return
        except subprocess.TimeoutExpired:
            continue


def run(parent: int, command: list[str]) -> int:
    def orphaned(*_: object) -> None:
        os.killpg(os.getpgrp(), signal.SIGKILL)  # this process too

    # SIGTERM reaches the whole group: the command decides what it means, and this process waits for it.
    # Set before the command starts: a stop that came in between would end this process and leave the
    # command running without its tether (a loaded machine hit that).
    signal.signal(signal.SIGTERM, lambda *_: None)
    signal.signal(signal.SIGUSR1, orphaned)
    signal_on_parent_death(signal.SIGUSR1)
    if os.getppid() != parent:  # gone before the signal was asked for
        return 1
    child = subprocess.Popen(command)
    while True:
        try:
            status = child.wait(timeout=POLL_SECONDS)
            return status if status >= 0 else 128 - status
        except subprocess.TimeoutExpired:
            if os.getppid() != parent:  # handed to init or a subreaper: the flow is gone
                orphaned()


def main(argv: list[str]) -> int:
    if len(argv) < 3 or argv[1] != "--":
        sys.exit("usage: python -m flows.tether PARENT_PID -- COMMAND [ARGS…]")
    return run(int(argv[0]), argv[2:])


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
