"""One training run of the selected family, whatever its engine: Lightning for networks, the family's own
library for trees and linear models, each member in turn for an ensemble. The train stage and a portfolio's
candidate fits both call it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from millrace.training.fit import RESUME_DIR


def fit_selected(
    label_dir: Path,
    selection: dict[str, Any],
    params,
    out: Path,
    live_dir: Path,
    checkpoints: Path = RESUME_DIR,
    callbacks: tuple = (),
) -> dict[str, Any]:
    """Train on `label_dir`'s train split (its val split choosing the best epoch or round), save to `out`;
    return what model.json records and whether the run resumed an interrupted one."""
    from millrace.models.catalogue import FAMILIES
    from millrace.training import ensemble_run, estimator_run, lightning_run

    if "members" in selection:  # a weighted ensemble of the portfolio's best candidates
        return ensemble_run.run(label_dir, selection, params, out, live_dir, fit_selected) | {"resumed": False}
    if FAMILIES[selection["family"]].engine != "lightning":
        return estimator_run.run(label_dir, selection, params, out, live_dir) | {"resumed": False}
    return lightning_run.run(label_dir, selection, params, out, live_dir, checkpoints, callbacks)
