"""evaluate: score the trained model on the test split and decide if it meets the delivery standard.

Reads `<paths.train>/` and `<paths.label>/test.parquet` plus `evaluate.thresholds`; writes
`reports/evaluate/metrics.json` (classification: accuracy, macro precision/recall/F1 and
per-class metrics; regression: MSE, RMSE, MAE and R²; the model's size; for a distilled model the
teacher's figures beside it; and the delivery decision with its reasons), plus
`reports/evaluate/plots/` (confusion.csv, or residuals.csv for regression) for `dvc plots`. The deploy stage refuses a
model whose decision is not `passed`. Run: `python -m stages.evaluate`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.errors import MillraceError
from stages.io import atomic_dir, write_json
from stages.params import LOWER_IS_BETTER, Evaluate, load_params

BATCH = 256


def predict(trained, frame: pd.DataFrame):
    """Class probabilities (N × classes) or predicted values (N), as the deployed graph computes them."""
    import torch

    model = trained.serving_model()
    outputs = []
    with torch.no_grad():
        for start in range(0, len(frame), BATCH):
            encoded = trained.plan.encode(frame.iloc[start : start + BATCH])
            outputs.append(model(*(torch.from_numpy(encoded[n]) for n in trained.plan.input_names)))
    return torch.cat(outputs)


def regression_scores(predictions, values) -> dict[str, Any]:
    import torch
    from torchmetrics.functional import mean_absolute_error, mean_squared_error, r2_score

    target = torch.tensor(np.asarray(values, dtype="float64"), dtype=predictions.dtype)
    mse = mean_squared_error(predictions, target).item()
    return {
        "mse": mse,
        "rmse": mse**0.5,
        "mae": mean_absolute_error(predictions, target).item(),
        "r2": r2_score(predictions, target).item(),
    }


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
    """Every declared threshold must be met (a floor, or a ceiling on errors); the reasons say which were."""
    unknown = [name for name in params.thresholds if name not in metrics]
    if unknown:
        available = [k for k, v in metrics.items() if isinstance(v, float)]
        raise MillraceError(
            f"evaluate.thresholds names {unknown}, which this task does not measure; use some of {available}"
        )
    checks = []
    for name, limit in params.thresholds.items():
        ceiling = name in LOWER_IS_BETTER
        passed = metrics[name] <= limit if ceiling else metrics[name] >= limit
        checks.append({"metric": f"test/{name}", "value": metrics[name], "threshold": limit, "passed": passed})
    reasons = []
    for c in checks:
        ceiling = c["metric"].split("/")[1] in LOWER_IS_BETTER
        sign = ("<=" if c["passed"] else ">") if ceiling else (">=" if c["passed"] else "<")
        reasons.append(f"{c['metric']} {c['value']:.4f} {sign} {c['threshold']}")
    return {"passed": all(c["passed"] for c in checks), "checks": checks, "reasons": reasons}


def model_size(trained, train_dir: Path) -> dict[str, Any]:
    """Parameters and their bytes (what a deployed model carries), and the bytes this run saved.

    The two differ for freeze and LoRA, which save only what they trained.
    """
    from stages.trained import WEIGHTS, parameter_counts

    counts = parameter_counts(trained.backbone)
    weights = sum(p.numel() * p.element_size() for p in trained.backbone.parameters())
    return {
        "parameters": counts["total_params"],
        "trainable_parameters": trained.meta.get("trainable_params", counts["trainable_params"]),  # as trained
        "parameter_bytes": weights,
        "saved_bytes": (train_dir / WEIGHTS).stat().st_size,
    }


def run(trained, test: pd.DataFrame, params: Evaluate) -> tuple[dict[str, Any], pd.DataFrame]:
    """Metrics and the delivery decision, plus the rows for the confusion or residual plot."""
    outputs = predict(trained, test)
    if trained.task == "regression":
        metrics = regression_scores(outputs, test["label"].to_numpy())
        predicted = outputs.tolist()
        plot = pd.DataFrame({"actual": test["label"], "predicted": predicted})
        plot["residual"] = plot["actual"] - plot["predicted"]
        return {"test": metrics, "delivery": delivery(metrics, params)}, plot
    metrics = scores(outputs, test["label"].to_numpy(), trained.classes)
    classes = trained.classes
    confusion = pd.DataFrame(
        {
            "actual": [classes[i] for i in test["label"]],
            "predicted": [classes[i] for i in outputs.argmax(dim=1).tolist()],
        }
    )
    return {"test": metrics, "delivery": delivery(metrics, params)}, confusion


def teacher_comparison(trained, test: pd.DataFrame) -> dict[str, Any] | None:
    """For a distilled model: the teacher's accuracy and size beside the student's."""
    distilled = trained.meta.get("distilled_from")
    if not distilled:
        return None
    from stages import trained as trained_model

    teacher = trained_model.load(distilled["teacher"])
    teacher_metrics = scores(predict(teacher, test), test["label"].to_numpy(), teacher.classes)
    return {
        "teacher": distilled["teacher"],
        "family": teacher.meta["family"],
        "accuracy": teacher_metrics["accuracy"],
        "f1_macro": teacher_metrics["f1_macro"],
        **model_size(teacher, Path(distilled["teacher"])),
    }


def main() -> None:
    from stages import trained as trained_model

    params = load_params()
    model = trained_model.load(params.paths.train)
    test = pd.read_parquet(Path(params.paths.label) / "test.parquet")
    report, plot = run(model, test, params.evaluate)
    report["model"] = {"family": model.meta["family"], "strategy": model.meta["model"]["strategy"]}
    report["model"] |= model_size(model, Path(params.paths.train))
    teacher = teacher_comparison(model, test)
    if teacher:
        report["teacher"] = teacher
        report["model"]["size_vs_teacher"] = round(report["model"]["parameter_bytes"] / teacher["parameter_bytes"], 4)
        report["model"]["accuracy_vs_teacher"] = round(report["test"]["accuracy"] - teacher["accuracy"], 4)
    out = Path(params.paths.reports) / "evaluate"
    with atomic_dir(out / "plots") as plots:
        plot.to_csv(plots / ("residuals.csv" if model.task == "regression" else "confusion.csv"), index=False)
    write_json(out / "metrics.json", report)
    verdict = "meets" if report["delivery"]["passed"] else "does NOT meet"
    print(f"model {verdict} the delivery standard: " + "; ".join(report["delivery"]["reasons"]))


if __name__ == "__main__":
    from stages.cli import stage_main

    stage_main(main, __doc__)
