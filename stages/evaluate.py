"""evaluate: score the trained model on the test split and decide if it meets the delivery standard.

Reads `<paths.train>/` and `<paths.label>/test.parquet` plus `evaluate.thresholds`; writes
`reports/evaluate/metrics.json` (accuracy, macro precision/recall/F1, per-class metrics and the
delivery decision with its reasons) and `reports/evaluate/confusion.csv` for `dvc plots`.
The deploy stage refuses a model whose decision is not `passed`. Run: `python -m stages.evaluate`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from stages.features import encode
from stages.io import atomic_path, write_json
from stages.params import Evaluate, load_params


def predict_proba(trained, frame: pd.DataFrame):
    import torch

    with torch.no_grad():
        x = torch.from_numpy(encode(frame, trained.plan))
        return torch.softmax(trained.backbone(x), dim=1)


def scores(probabilities, labels, classes: list[str]) -> dict[str, Any]:
    """Test metrics from torchmetrics, keyed as they appear in `dvc metrics show`."""
    import torch
    from torchmetrics.functional.classification import (
        multiclass_accuracy,
        multiclass_confusion_matrix,
        multiclass_f1_score,
        multiclass_precision,
        multiclass_recall,
    )

    target = torch.tensor(list(labels))
    n = len(classes)
    out: dict[str, Any] = {"accuracy": multiclass_accuracy(probabilities, target, n, average="micro").item()}
    per_class: dict[str, dict[str, float]] = {c: {} for c in classes}
    for name, fn in [("precision", multiclass_precision), ("recall", multiclass_recall), ("f1", multiclass_f1_score)]:
        out[f"{name}_macro"] = fn(probabilities, target, n, average="macro").item()
        for cls, value in zip(classes, fn(probabilities, target, n, average="none").tolist(), strict=True):
            per_class[cls][name] = value
    for cls_id, cls in enumerate(classes):
        per_class[cls]["support"] = int((target == cls_id).sum())
    out["per_class"] = per_class
    matrix = multiclass_confusion_matrix(probabilities, target, n).tolist()
    out["confusion_matrix"] = {"rows_actual_columns_predicted": classes, "counts": matrix}
    return out


def delivery(metrics: dict[str, Any], params: Evaluate) -> dict[str, Any]:
    """Every declared threshold must be met; the reasons say which were and which were not."""
    checks = [
        {"metric": f"test/{name}", "value": metrics[name], "threshold": limit, "passed": metrics[name] >= limit}
        for name, limit in params.thresholds.items()
    ]
    reasons = [
        f"test/{c['metric'].split('/')[1]} {c['value']:.4f} {'>=' if c['passed'] else '<'} {c['threshold']}"
        for c in checks
    ]
    return {"passed": all(c["passed"] for c in checks), "checks": checks, "reasons": reasons}


def run(trained, test: pd.DataFrame, params: Evaluate) -> tuple[dict[str, Any], pd.DataFrame]:
    probabilities = predict_proba(trained, test)
    metrics = scores(probabilities, test["label"].to_numpy(), trained.classes)
    classes = trained.classes
    confusion = pd.DataFrame(
        {
            "actual": [classes[i] for i in test["label"]],
            "predicted": [classes[i] for i in probabilities.argmax(dim=1).tolist()],
        }
    )
    return {"test": metrics, "delivery": delivery(metrics, params)}, confusion


def main() -> None:
    from stages import trained as trained_model

    params = load_params()
    model = trained_model.load(params.paths.train)
    test = pd.read_parquet(Path(params.paths.label) / "test.parquet")
    report, confusion = run(model, test, params.evaluate)
    out = Path(params.paths.reports) / "evaluate"
    with atomic_path(out / "confusion.csv") as tmp:
        confusion.to_csv(tmp, index=False)
    write_json(out / "metrics.json", report)
    verdict = "meets" if report["delivery"]["passed"] else "does NOT meet"
    print(f"model {verdict} the delivery standard: " + "; ".join(report["delivery"]["reasons"]))


if __name__ == "__main__":
    from stages.cli import stage_main

    stage_main(main, __doc__)
