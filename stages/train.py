"""train: fit the selected model family with Lightning (or, for a tree or linear family, its own library), log
curves with dvclive, keep the best.

Reads `<paths.label>/{train,val}.parquet`, `<paths.selection>` and the `seed`, `data.*`, `model.*`
and `train.*` params; writes `<paths.train>/` (model.safetensors, model.json,
preprocess.json [+ tokenizer.json for text]; a tree or linear family's own model file instead of the weights) and
`reports/train/` (dvclive metrics and per-epoch, or per-round, plots).
Deterministic on CPU: the same params give the same weights. With `train.resume: auto` an
interrupted run continues from its last epoch (checkpoints in `.millrace/resume/`, removed once
training completes). Run: `python -m stages.train`.

A causal language model (`data.task` sft or pretraining) trains by millrace/language/steps/train.py instead
(millrace/training/by_task.py chooses).
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from millrace.config.params import load_params
from millrace.entry import stage_main
from millrace.files import atomic_dir, read_json
from millrace.training.by_task import train
from millrace.training.fit import RESUME_DIR, ddp_worker


def run(
    label_dir: Path,
    selection: dict[str, Any],
    params,
    out: Path,
    live_dir: Path,
    checkpoints: Path = RESUME_DIR,
    callbacks: tuple = (),
) -> dict[str, Any]:
    """Train, then save the best epoch's weights to `out`; return what model.json records, and whether
    the run resumed an interrupted one (not recorded: a resumed run's model is the uninterrupted one's,
    byte for byte, so nothing downstream has to run again).

    `params` is the whole millrace.config.params.Params; only seed, data, model and train are read.
    """
    return train(label_dir, selection, params, out, live_dir, checkpoints, callbacks)


def main() -> None:
    params = load_params()
    selection = read_json(params.paths.selection)
    if ddp_worker():  # it trains its share of each batch; only rank 0 writes the outputs
        with tempfile.TemporaryDirectory(prefix="millrace-rank-") as scratch:
            run(Path(params.paths.label), selection, params, Path(scratch) / "model", Path(scratch) / "live")
        return
    with (
        atomic_dir(params.paths.train) as out,
        atomic_dir(Path(params.paths.reports) / "train") as live_dir,
    ):
        run(Path(params.paths.label), selection, params, out, live_dir)


if __name__ == "__main__":
    stage_main(main, __doc__)
