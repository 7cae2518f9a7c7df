"""What the train stage runs, by `data.task`: a causal language model trains by millrace/language/steps/train.py,
every other model by millrace/training/dispatch.py's `fit_selected`.

Kept apart from dispatch so that select, whose portfolio fits its candidates through dispatch, does not depend on
the language-model code (each module a stage imports is a DVC dependency of it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from millrace.training.fit import RESUME_DIR


def train(
    label_dir: Path,
    selection: dict[str, Any],
    params,
    out: Path,
    live_dir: Path,
    checkpoints: Path = RESUME_DIR,
    callbacks: tuple = (),
) -> dict[str, Any]:
    """Train, save to `out`; return what model.json records and whether the run resumed an interrupted one."""
    from millrace.config.params import LANGUAGE_TASKS

    if params.data.task in LANGUAGE_TASKS:
        from millrace.language.steps import train as language

        return language.run(params, selection, out, live_dir, checkpoints, callbacks)
    from millrace.training.dispatch import fit_selected

    return fit_selected(label_dir, selection, params, out, live_dir, checkpoints, callbacks)
