"""Resuming an interrupted training run: checkpoints that outlive damage, and which one to start from.

A run keeps its two newest epoch checkpoints, `last.ckpt` and `previous.ckpt` (the last one moved aside
before the next is written), and `saved.json` names the newest epoch saved. To resume: last.ckpt if it
loads; else previous.ckpt, saying so (a truncated or damaged last.ckpt costs one epoch, not the run); and
when saved.json says an epoch was saved but no checkpoint loads, an error: starting again from epoch 0
without a word would hide that the interrupted run's work was lost.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from lightning.pytorch.callbacks import ModelCheckpoint

from millrace.errors import MillraceError
from millrace.files import read_json, write_json
from millrace.models import network

LAST, PREVIOUS, SAVED = "last.ckpt", "previous.ckpt", "saved.json"


class KeepPreviousCheckpoint(ModelCheckpoint):
    """Lightning's ModelCheckpoint (best and last), keeping the last checkpoint before it writes the next."""

    def _save_checkpoint(self, trainer, filepath: str) -> None:
        path = Path(filepath)
        is_last = path.name == LAST and trainer.is_global_zero
        if is_last and path.exists():
            os.replace(path, path.with_name(PREVIOUS))
        super()._save_checkpoint(trainer, filepath)
        if is_last:
            write_json(path.with_name(SAVED), {"epoch": trainer.current_epoch})


def start_afresh(checkpoints: Path, key: str) -> None:
    """An empty checkpoint folder stamped with the run's fingerprint."""
    shutil.rmtree(checkpoints, ignore_errors=True)
    checkpoints.mkdir(parents=True)
    checkpoints.with_name(f"{checkpoints.name}.fingerprint").write_text(key)


def resume_point(checkpoints: Path, key: str, mode: str) -> str | None:
    """The checkpoint an interrupted run with the same fingerprint left to continue from, or None to start
    afresh; raises MillraceError when that run saved an epoch and none of its checkpoints loads."""
    stamp = checkpoints.with_name(f"{checkpoints.name}.fingerprint")
    if mode == "never" or not stamp.exists() or stamp.read_text() != key:
        start_afresh(checkpoints, key)
        return None
    problems = []
    for name in (LAST, PREVIOUS):
        path = checkpoints / name
        if not path.exists():
            problems.append(f"{name} is missing")
            continue
        try:
            network.load_checkpoint(path)
        except MillraceError as exc:
            problems.append(str(exc))
            continue
        if name == PREVIOUS:
            print(f"train: cannot resume from {LAST} ({problems[0]}); resuming from the epoch before it")
            # A damaged last.ckpt must not become the next previous.ckpt.
            (checkpoints / LAST).unlink(missing_ok=True)
        print(f"train: resuming the interrupted run from {path}")
        return str(path)
    saved = checkpoints / SAVED
    if saved.exists():
        raise MillraceError(
            f"train: the interrupted run saved epoch {read_json(saved).get('epoch')} in {checkpoints}, but no "
            f"checkpoint of it loads ({'; '.join(problems)}). Delete {checkpoints} to train again from epoch 0, "
            "or set train.resume: never"
        )
    start_afresh(checkpoints, key)  # interrupted before its first checkpoint: nothing to lose
    return None
