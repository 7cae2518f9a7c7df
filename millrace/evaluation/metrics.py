"""Test-split metrics for evaluate: scores per task, bootstrap intervals, slices and plot data.

Scores come from torchmetrics; resampling and slicing reuse the same functions on numpy arrays
(sklearn), so a slice's accuracy means what the headline accuracy means.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
import pandas as pd

PRIMARY = {"classification": "accuracy", "regression": "r2"}
INTERVALS = {"classification": ("accuracy", "f1_macro"), "regression": ("mae", "r2")}
WORST_SLICE = {"classification": "accuracy", "regression": "mae"}  # judged per slice
QUANTILE_BINS = 4  # a numeric slice column is cut into quartiles
MISSING_SLICE = "(missing)"
BOOTSTRAP_BLOCK_CELLS = 4_000_000  # draws resampled at once: (draws × test rows) indices, 32 MB


def scores(probabilities, labels, classes: list[str]) -> dict[str, Any]:
    """Classification metrics from torchmetrics, keyed as they appear in `dvc metrics show`."""
    import torch
    from torchmetrics.functional.classification import (
        multiclass_accuracy,
        multiclass_auroc,
        multiclass_calibration_error,
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
        out[f"{name}_weighted"] = fn(probabilities, target, n, average="weighted").item()
        for cls, value in zip(classes, fn(probabilities, target, n, average="none").tolist(), strict=True):
            per_class[cls][name] = value
    out["roc_auc"] = multiclass_auroc(probabilities, target, n, average="macro").item()
    out["calibration_error"] = multiclass_calibration_error(probabilities, target, n, n_bins=10).item()
    for cls_id, cls in enumerate(classes):
        per_class[cls]["support"] = int((target == cls_id).sum())
    out["per_class"] = per_class
    matrix = multiclass_confusion_matrix(probabilities, target, n).tolist()
    out["confusion_matrix"] = {"rows_actual_columns_predicted": classes, "counts": matrix}
    return out


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


def quick(task: str, actual: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    """The few metrics resampling, slices and baselines report, from hard predictions."""
    from sklearn.metrics import accuracy_score, f1_score, mean_absolute_error, r2_score

    if task == "regression":
        r2 = r2_score(actual, predicted) if len(actual) > 1 and np.ptp(actual) > 0 else float("nan")
        return {"mae": float(mean_absolute_error(actual, predicted)), "r2": float(r2)}
    return {
        "accuracy": float(accuracy_score(actual, predicted)),
        "f1_macro": float(f1_score(actual, predicted, average="macro", zero_division=0)),
    }


def bootstrap(task: str, actual: np.ndarray, predicted: np.ndarray, resamples: int, seed: int) -> dict[str, Any]:
    """95% percentile intervals for the headline metrics, from `resamples` draws of the test rows.

    Each draw's metrics are what `quick` gives for it (test: equal to the last digit), computed for a block
    of draws at once: one `quick` call per draw was most of evaluate's time (scikit-learn checks its
    input on every call: ~2 ms a draw).
    """
    if resamples == 0:
        return {}
    rng = np.random.default_rng(seed)
    n = len(actual)
    if task == "classification":
        codes = np.unique(np.concatenate([actual, predicted]), return_inverse=True)[1].reshape(-1)
        actual, predicted = codes[:n], codes[n:]
        score = partial(_classification_draws, classes=int(codes.max()) + 1)
    else:
        actual, predicted = np.asarray(actual, dtype="float64"), np.asarray(predicted, dtype="float64")
        score = _regression_draws
    draws: dict[str, list[np.ndarray]] = {name: [] for name in INTERVALS[task]}
    block = max(1, BOOTSTRAP_BLOCK_CELLS // max(n, 1))
    for start in range(0, resamples, block):
        rows = np.stack([rng.integers(0, n, n) for _ in range(min(block, resamples - start))])
        for name, values in score(actual[rows], predicted[rows]).items():
            draws[name].append(values)
    return {
        name: {"low": float(np.nanpercentile(v, 2.5)), "high": float(np.nanpercentile(v, 97.5)), "level": 0.95}
        for name, v in ((name, np.concatenate(blocks)) for name, blocks in draws.items())
    } | {"resamples": resamples}


def _classification_draws(actual: np.ndarray, predicted: np.ndarray, classes: int) -> dict[str, np.ndarray]:
    """Accuracy and macro F1 of each row of (draws, rows) class codes, as scikit-learn scores one draw:
    macro F1 averages over the classes present in that draw's actual or predicted labels."""
    hit = actual == predicted
    offsets = np.arange(len(actual))[:, None] * classes

    def per_class(codes: np.ndarray) -> np.ndarray:
        return np.bincount(codes.ravel(), minlength=len(actual) * classes).reshape(len(actual), classes)

    true_positives = per_class((offsets + actual)[hit])
    labelled = per_class(offsets + actual) + per_class(offsets + predicted)  # 2·tp + fp + fn
    present = labelled > 0
    f1 = np.divide(2 * true_positives, labelled, out=np.zeros(labelled.shape), where=present)
    return {"accuracy": hit.mean(axis=1), "f1_macro": f1.sum(axis=1) / present.sum(axis=1)}


def _regression_draws(actual: np.ndarray, predicted: np.ndarray) -> dict[str, np.ndarray]:
    """MAE and R² of each row of (draws, rows) values; R² is NaN where a draw's actual values are all equal."""
    error = actual - predicted
    spread = ((actual - actual.mean(axis=1, keepdims=True)) ** 2).sum(axis=1)
    varied = (np.ptp(actual, axis=1) > 0) & (actual.shape[1] > 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        r2 = np.where(varied, 1 - (error**2).sum(axis=1) / spread, np.nan)
    return {"mae": np.abs(error).mean(axis=1), "r2": r2}


def _groups(column: pd.Series) -> pd.Series:
    """Each row's slice: its value, or its quartile; rows missing the value are a slice of their own."""
    if pd.api.types.is_numeric_dtype(column) and column.nunique() > QUANTILE_BINS * 2:
        grouped = pd.qcut(column, QUANTILE_BINS, duplicates="drop").astype("object")
    else:
        grouped = column.astype("object")
    return grouped.where(grouped.notna(), MISSING_SLICE).astype("str")


AUTO_SLICE_VALUES = (2, 10)  # evaluate.slices: auto slices by categorical features with this many values


def slice_columns(setting: list[str] | str, plan) -> list[str]:
    """The columns to slice by: those named, or with `auto` the categorical features with 2 to 10 values."""
    if setting != "auto":
        return list(setting)
    signature = plan.signature() if hasattr(plan, "signature") else []
    low, high = AUTO_SLICE_VALUES
    return [f["name"] for f in signature if f["role"] == "categorical" and low <= len(f["categories"]) <= high]


def slices(
    task: str, test: pd.DataFrame, actual: np.ndarray, predicted: np.ndarray, columns: list[str], min_rows: int
) -> dict[str, Any]:
    """Metrics per value (or quartile) of each declared column; the worst judged slice is named."""
    missing = [c for c in columns if c not in test.columns]
    if missing:
        from millrace.errors import MillraceError

        raise MillraceError(f"evaluate.slices names columns the test split lacks: {missing}")
    report: dict[str, Any] = {"columns": {}, "min_rows": min_rows}
    judged = WORST_SLICE[task]
    worst = None
    for column in columns:
        groups = _groups(test[column]).to_numpy()
        table = {}
        for value in sorted(set(groups)):
            rows = groups == value
            entry = {"rows": int(rows.sum()), **quick(task, actual[rows], predicted[rows])}
            table[value] = entry
            if entry["rows"] >= min_rows:
                score = entry[judged]
                poorer = worst is None or (score > worst[2] if judged == "mae" else score < worst[2])
                if poorer:
                    worst = (column, value, score)
        report["columns"][column] = table
    if worst:
        report["worst"] = {"column": worst[0], "value": worst[1], judged: worst[2]}
    return report


def roc_points(probabilities: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    """The micro-averaged ROC curve (every class one-vs-rest, pooled)."""
    from sklearn.metrics import roc_curve

    onehot = np.eye(probabilities.shape[1])[labels]
    fpr, tpr, _ = roc_curve(onehot.ravel(), probabilities.ravel())
    return pd.DataFrame({"fpr": fpr, "tpr": tpr})


def precision_recall_points(probabilities: np.ndarray, labels: np.ndarray) -> pd.DataFrame:
    from sklearn.metrics import precision_recall_curve

    onehot = np.eye(probabilities.shape[1])[labels]
    precision, recall, _ = precision_recall_curve(onehot.ravel(), probabilities.ravel())
    return pd.DataFrame({"recall": recall, "precision": precision})


def calibration_points(probabilities: np.ndarray, labels: np.ndarray, bins: int = 10) -> pd.DataFrame:
    """Reliability diagram: per confidence bin, the mean confidence and the accuracy."""
    confidence = probabilities.max(1)
    correct = probabilities.argmax(1) == labels
    edges = np.linspace(0, 1, bins + 1)
    which = np.clip(np.digitize(confidence, edges[1:-1]), 0, bins - 1)
    rows = [
        {"confidence": float(confidence[which == b].mean()), "accuracy": float(correct[which == b].mean()), "rows": n}
        for b in range(bins)
        if (n := int((which == b).sum()))
    ]
    return pd.DataFrame(rows, columns=["confidence", "accuracy", "rows"])
