"""One flow run at a time per workspace: a second one fails fast with "pipeline busy" and who holds it.

DVC locks the repository only while one `dvc repro` runs. A flow runs one `dvc repro` per stage and
may edit params.yaml for its overrides, so two flows could interleave between stages. The flow
holds an OS file lock (flock) for its whole run; the OS drops it when the process ends, even by
kill -9, so a crash never leaves a stale lock behind.
"""

from __future__ import annotations

import fcntl
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO

LOCK_FILE = ".millrace/flow.lock"


class PipelineBusy(RuntimeError):
    """Another flow run holds this workspace."""


@contextmanager
def workspace_lock(root: Path, holder: str) -> Iterator[None]:
    """Hold the workspace for `holder` (a description of this run) or raise PipelineBusy at once."""
    path = root / LOCK_FILE
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(root, handle) from None
        handle.seek(0)
        handle.truncate()
        handle.write(f"{holder} (pid {os.getpid()}, since {time.strftime('%Y-%m-%d %H:%M:%S %Z')})")
        handle.flush()
        try:
            yield
        finally:
            handle.seek(0)
            handle.truncate()


def ensure_free(root: Path) -> None:
    """Raise PipelineBusy now if a flow run holds `root` (a quick check before starting Prefect)."""
    path = root / LOCK_FILE
    if not path.exists():
        return
    with open(path) as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise _busy(root, handle) from None


def _busy(root: Path, handle: IO[str]) -> PipelineBusy:
    handle.seek(0)
    who = handle.read().strip() or "another process"
    return PipelineBusy(f"pipeline busy: {who} is running in {root}; wait for it to end (or stop it), then run again")
