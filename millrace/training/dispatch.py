"""One training run of the selected table, image or text model: a blend (each member in turn), or a family through
its engine's run (Lightning for networks, the family's own library for trees and linear models). The train stage
and a portfolio's candidate fits both call it; what is done with the model it saves is the engine's other half,
millrace/models/engines.py."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from millrace.training.fit import RESUME_DIR


def fit_selected(
    label_dir: Path,
    selection: dict[str, Any],
    params,
    out: Path,
    live_dir: Path | None,
    checkpoints: Path = RESUME_DIR,
    callbacks: tuple = (),
) -> dict[str, Any]:
    """Train on `label_dir`'s train split (its val split choosing the best epoch or round), save to `out`, log the
    curves into `live_dir` (None: no curves, as a portfolio's judging fits keep none);
    return what model.json records and whether the run resumed an interrupted one (a resumed run's model is the
    uninterrupted one's, byte for byte)."""
    from millrace.models.catalogue import FAMILIES
    from millrace.training import ensemble_run, estimator_run, lightning_run

    if "members" in selection:  # a weighted ensemble of the portfolio's best candidates
        return ensemble_run.run(label_dir, selection, params, out, live_dir, fit_selected) | {"resumed": False}
    if FAMILIES[selection["family"]].engine == "lightning":  # the one place an engine's training run is chosen
        return lightning_run.run(label_dir, selection, params, out, live_dir, checkpoints, callbacks)
    return estimator_run.run(label_dir, selection, params, out, live_dir) | {"resumed": False}
