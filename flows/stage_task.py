"""The Prefect task that runs one DVC stage, and the rule for which failures it retries.

`dvc repro --single-item <stage>`: DVC still decides whether the stage is up to date, Prefect shows
its state, duration and log. A stage that exits TRANSIENT_EXIT (a URL that did not answer) may pass
on a later try and is retried with exponential backoff; any other failure (a failed gate, a bad
param, a refused deployment) would fail the same way again and is not. A stage running past its
deadline is stopped with its whole process group, so nothing is left running; so is a stage whose flow
process is killed outright (flows/tether.py).
"""

from __future__ import annotations

import logging
import os
import re
import subprocess
import threading
from collections import deque
from pathlib import Path
from typing import Any

import yaml
from prefect import get_run_logger, task
from prefect.tasks import exponential_backoff

from flows import tether
from millrace.environment import QUIET_ENV
from millrace.errors import TRANSIENT_EXIT
from millrace.ops.dvc import dvc_command

GRACE_SECONDS = 10  # after SIGTERM, before SIGKILL
# What DVC says after every `dvc repro` in a git repository: once per stage task, it is noise in the run's log.
DVC_HINTS = (
    "To track the changes with git",
    "git add ",
    "To enable auto staging",
    "dvc config core.autostage",
    "Use `dvc push` to send your updates",
)
CORRUPT_RWLOCK_HINT = (
    "DVC's lock file .dvc/tmp/rwlock is corrupt (a crash while DVC wrote it): when no dvc process is running "
    "(`pgrep -af dvc`), delete it and run again; DVC writes a fresh one"
)


class StageFailed(RuntimeError):
    """A stage exited non-zero; the message ends with the last lines it printed."""


class TransientStageFailure(StageFailed):
    """The stage said trying again may help (its exit status was TRANSIENT_EXIT)."""


class StageTimedOut(StageFailed):
    """The stage ran past flows.stage_timeout_seconds and was stopped."""


def retry_if_transient(task: Any, task_run: Any, state: Any) -> bool:
    return isinstance(state.data, TransientStageFailure)


def _failure(stage: str, returncode: int, tail: list[str]) -> StageFailed:
    """The stage's own `error:` message when it printed one (millrace/cli.py), else the last lines."""
    said = "\n".join(tail)
    status = re.search(r"exited with (-?\d+)", said)
    errors = [i for i, line in enumerate(tail) if line.startswith("error:")]
    if errors:
        said = "\n".join(line for line in tail[errors[-1] :] if not line.startswith("ERROR: failed to reproduce"))
        said = said.removeprefix("error: ")
    if "Unable to read RWLock-file" in said:  # a crash mid-write left DVC's lock file unreadable
        said += f"\n{CORRUPT_RWLOCK_HINT}"
    if status and int(status.group(1)) == TRANSIENT_EXIT:
        return TransientStageFailure(f"stage {stage!r} failed, transiently (it may pass when retried): {said}")
    return StageFailed(f"stage {stage!r} failed (dvc exit {returncode}): {said}")


@task
def run_stage(
    stage: str, repo: str, force: bool = False, timeout_seconds: float = 6 * 3600, up_to_date: bool = False
) -> None:
    """One DVC stage; a failure fails the task, and the flow stops before the next stage.

    up_to_date: the flow already knows from `dvc status` that DVC would skip it; say so, start nothing.
    """
    logger = get_run_logger()
    if up_to_date:
        logger.info("Stage %r didn't change, skipping (dvc status)", stage)
        return
    command = dvc_command("repro", "--single-item", *(["--force"] if force else []), stage)
    process = tether.start(  # its own process group, tethered: it ends when the flow does, even by kill -9
        command,
        cwd=repo,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={**os.environ, **QUIET_ENV},
    )
    expired = threading.Event()

    def deadline() -> None:
        expired.set()
        tether.stop(process, GRACE_SECONDS)

    timer = threading.Timer(timeout_seconds, deadline)
    timer.daemon = True
    timer.start()
    tail: deque[str] = deque(maxlen=20)
    try:
        assert process.stdout is not None
        for line in process.stdout:
            line = line.rstrip()
            if line and not line.lstrip().startswith(DVC_HINTS):
                logger.info(line)
                tail.append(line)
        process.wait()
    finally:
        timer.cancel()
        if process.poll() is None:  # interrupted or cancelled while the stage ran
            tether.stop(process, GRACE_SECONDS)
    if expired.is_set():
        raise StageTimedOut(
            f"stage {stage!r} ran longer than flows.stage_timeout_seconds ({timeout_seconds:g} s) and was stopped"
        )
    if process.returncode != 0:
        raise _failure(stage, process.returncode, list(tail))


def stale_stages(repo: Path, logger: logging.Logger | logging.LoggerAdapter) -> set[str] | None:
    """The stages `dvc status` says would run now (changed deps, params or outs, missing outputs);
    None when it cannot tell (said on `logger`), and then every stage is handed to `dvc repro`.

    DVC's own status, in this process: the flow has already imported most of what DVC needs, so this
    costs ~0.37 s where a `dvc status` process cost ~0.53 s (interpreter, imports) on every run.
    """
    from dvc.repo import Repo, lock_repo

    pipeline_file = str(repo.resolve() / "dvc.yaml")
    try:
        # Held around both calls: `status` alone takes and releases the lock, and dropping the lock drops
        # the stage index it built (~40 ms to build again for the stage names).
        with Repo(str(repo)) as dvc, lock_repo(dvc):
            changed = dvc.status()  # keyed by DVC's address for a stage, which is relative to the cwd
            return {s.name for s in dvc.index.stages if s.addressing in changed and s.path == pipeline_file}
    except Exception as exc:  # any failure here is DVC's to report, from `dvc repro`
        logger.warning("dvc status failed (%s); every stage goes to dvc repro", exc)
        return None


def recorded_outputs(repo: Path, stage: str) -> Any:
    """What dvc.lock records for the stage's outputs (their hashes), to see whether a run changed them."""
    lock = repo / "dvc.lock"
    if not lock.exists():
        return None
    return ((yaml.safe_load(lock.read_text()) or {}).get("stages") or {}).get(stage, {}).get("outs")


def stage_options(stage: str, retries: int, backoff_seconds: float) -> dict[str, Any]:
    """Task options for one stage: named after it, retried only when its failure was transient."""
    return {
        "name": stage,
        "retries": retries,
        "retry_delay_seconds": exponential_backoff(backoff_factor=backoff_seconds) if backoff_seconds else 0,
        "retry_condition_fn": retry_if_transient,
    }
