"""Champion and challenger: the active release scored on the challenger's validation split, on the primary
metric, beside the challenger's own validation score (the test split chooses nothing)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from millrace.errors import MillraceError


def champion_comparison(champion_dir: Path, trained, val: pd.DataFrame, evaluation: dict, tolerance: float) -> dict:
    """The active release scored on this validation split beside the challenger, on the primary metric."""
    from millrace.evaluation.metrics import PRIMARY
    from millrace.serving.bundle import Bundle

    try:
        champion = Bundle(champion_dir)
    except MillraceError as exc:  # e.g. a release made before the model carried its preprocessing
        return {"version": champion_dir.name, "comparable": False, "reason": f"it cannot be loaded: {exc}"}
    found: dict[str, Any] = {"version": champion.version}
    same = (champion.manifest.get("task"), champion.manifest.get("target"), sorted(champion.classes))
    if same != (trained.task, trained.meta["target"], sorted(trained.classes)):
        return found | {"comparable": False, "reason": "it predicts another target, task or set of classes"}
    try:
        predicted = champion.predict_frame(val)["prediction"]
    except MillraceError as exc:
        return found | {"comparable": False, "reason": f"it cannot read this validation split: {exc}"}
    metric = PRIMARY[trained.task]
    if trained.task == "regression":
        from sklearn.metrics import r2_score

        score = float(r2_score(val["label"], predicted))
    else:
        score = float((predicted.to_numpy() == np.array(trained.classes)[val["label"].to_numpy()]).mean())
    if "validation" not in evaluation:
        raise MillraceError("reports/evaluate/metrics.json has no validation metrics: run evaluate again")
    challenger = evaluation["validation"][metric]
    return found | {
        "comparable": True,
        "metric": metric,
        "champion": score,
        "challenger": challenger,
        "tolerance": tolerance,
        "passed": challenger >= score - tolerance,
    }
