"""evaluate: score the trained model on the validation split (what every later choice compares: sweeps,
`millrace compare`, champion and challenger, variants) and, once, on the test split, for the report and the
delivery standard.

Reads `<paths.train>/`, `<paths.label>/{train,val,test}.parquet` and `evaluate.*`; writes
`reports/evaluate/metrics.json`: the validation metrics, and on the test split classification accuracy, macro
and weighted precision/recall/F1, ROC-AUC, calibration error and per-class metrics, or regression MSE, RMSE,
MAE and R²; 95% bootstrap intervals; metrics per slice of the declared columns (the worst slice named);
scikit-learn baselines trained on the same split; the model's size (and a distilled model's teacher beside
it); and the delivery decision with its reasons. `reports/evaluate/plots/` holds the confusion matrix, ROC,
precision-recall and calibration data (residuals for regression) for `dvc plots`; `reports/review.html` is the
subjective review (chosen samples with their inputs, predictions and probabilities; reviewers' verdicts from
`reports/review_verdicts.csv` folded in). `reports/metrics.json` holds the headline figures `dvc exp show`
compares, validation and test (figures written to git are rounded to 4 significant digits:
millrace/precision.py). The deploy stage refuses a model whose decision is not `passed`. Run: `python -m
stages.evaluate`.

A causal language model (`data.task` sft or pretraining) takes millrace/language/steps/evaluate.py instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from millrace.config.params import LANGUAGE_TASKS, Evaluate, load_params
from millrace.evaluation import baselines, review_page
from millrace.evaluation.delivery import delivery
from millrace.evaluation.metrics import (
    WORST_SLICE,
    bootstrap,
    calibration_points,
    precision_recall_points,
    regression_scores,
    roc_points,
    scores,
    slice_columns,
    slices,
)
from millrace.files import atomic_dir, write_text
from millrace.models.trained_model import model_size, predict
from millrace.precision import SIGNIFICANT, write_figures

HEADLINE = {"classification": ("accuracy", "f1_macro"), "regression": ("r2", "mae", "rmse")}


def validation_scores(trained, val: pd.DataFrame) -> dict[str, Any]:
    """The validation split's metrics: what every choice after training compares."""
    outputs = predict(trained, val)
    actual = val["label"].to_numpy()
    if trained.task == "regression":
        return regression_scores(outputs, actual)
    return {k: v for k, v in scores(outputs, actual, trained.classes).items() if k != "per_class"}


def run(
    trained,
    test: pd.DataFrame,
    params: Evaluate,
    train: pd.DataFrame | None = None,
    seed: int = 0,
    verdicts: pd.DataFrame | None = None,
    val: pd.DataFrame | None = None,
) -> tuple[dict[str, Any], dict[str, pd.DataFrame], str | None]:
    """Metrics, intervals, slices, baselines, reviewer verdicts and the delivery decision; the data
    for each plot; and the review page (None when `review.per_class` is 0)."""
    validation = validation_scores(trained, val) if val is not None else None
    outputs = predict(trained, test)
    actual = test["label"].to_numpy()
    task = trained.task
    if task == "regression":
        metrics = regression_scores(outputs, actual)
        predicted = outputs.numpy().astype("float64")
        residuals = pd.DataFrame({"actual": actual, "predicted": predicted, "residual": actual - predicted})
        plots = {"residuals.csv": residuals}
    else:
        metrics = scores(outputs, actual, trained.classes)
        probabilities = outputs.numpy()
        predicted = probabilities.argmax(1)
        classes = trained.classes
        plots = {
            "confusion.csv": pd.DataFrame(
                {"actual": [classes[i] for i in actual], "predicted": [classes[i] for i in predicted]}
            ),
            "roc.csv": roc_points(probabilities, actual),
            "precision_recall.csv": precision_recall_points(probabilities, actual),
            "calibration.csv": calibration_points(probabilities, actual),
        }
    report: dict[str, Any] = ({"validation": validation} if validation is not None else {}) | {"test": metrics}
    report["confidence_intervals"] = bootstrap(task, actual, predicted, params.bootstrap, seed)
    sliced_by = slice_columns(params.slices, trained.plan)
    if sliced_by:
        sliced = slices(task, test, actual, predicted, sliced_by, params.slice_min_rows)
        report["slices"] = sliced
        if "worst" in sliced:
            judged = WORST_SLICE[task]
            metrics[f"worst_slice_{judged}"] = sliced["worst"][judged]
    if params.baselines and train is not None:
        report["baselines"] = baselines.run(trained.plan, train, test, task, seed)
    page = None
    if params.review.per_class and train is not None:
        values = outputs.numpy()
        shown = [trained.classes[i] for i in predicted] if task != "regression" else [f"{v:.4g}" for v in predicted]
        verdicts = review_page.read_verdicts(None) if verdicts is None else verdicts
        report["review"] = review_page.fold_in(verdicts, review_page.sample_ids(test), shown)
        chosen = review_page.choose(
            test, values, trained.classes, params.review.per_class, report.get("slices", {}).get("worst")
        )
        title = f"Review: {trained.meta['family']} on the test split ({len(chosen)} samples)"
        page = review_page.render(test, values, chosen, trained, train, verdicts, title)
        report["review"]["samples"] = len(chosen)
    report["delivery"] = delivery(
        metrics, params, report.get("baselines"), report.get("review"), report["confidence_intervals"]
    )
    return report, plots, page


def teacher_comparison(trained, test: pd.DataFrame) -> dict[str, Any] | None:
    """For a distilled model: the teacher's accuracy and size beside the student's."""
    distilled = trained.meta.get("distilled_from")
    if not distilled:
        return None
    from millrace.models import trained_model

    teacher = trained_model.load(distilled["teacher"])
    teacher_metrics = scores(predict(teacher, test), test["label"].to_numpy(), teacher.classes)
    return {
        "teacher": distilled["teacher"],
        "family": teacher.meta["family"],
        "accuracy": teacher_metrics["accuracy"],
        "f1_macro": teacher_metrics["f1_macro"],
        **model_size(teacher, Path(distilled["teacher"])),
    }


def headline(report: dict[str, Any]) -> dict[str, Any]:
    """The few figures `dvc exp show` puts side by side: the task's headline validation metrics (what
    experiments are ranked by) and test metrics, the best baseline's primary metric, and whether the delivery
    standard was met (the details stay in evaluate/metrics.json)."""
    task = "regression" if "r2" in report["test"] else "classification"
    found: dict[str, Any] = {}
    for split in ("validation", "test"):
        if split in report:
            found["val" if split == "validation" else split] = {
                name: report[split][name] for name in HEADLINE[task] if name in report[split]
            }
    found["standard_met"] = report["delivery"]["passed"]
    best = (report.get("baselines") or {}).get("best")
    if best:
        found["baseline"] = {best["metric"]: best["value"]}
    return found


def main() -> None:
    from millrace.models import trained_model

    params = load_params()
    if params.data.task in LANGUAGE_TASKS:  # a causal language model: millrace/language/steps
        from millrace.language.steps import evaluate as language

        language.main(params)
        return
    model = trained_model.load(params.paths.train)
    label_dir = Path(params.paths.label)
    test = pd.read_parquet(label_dir / "test.parquet")
    train = pd.read_parquet(label_dir / "train.parquet")
    val = pd.read_parquet(label_dir / "val.parquet")
    verdicts = review_page.read_verdicts(Path(params.paths.reports) / review_page.VERDICTS_FILE)
    report, plot_data, page = run(model, test, params.evaluate, train, params.seed, verdicts, val)
    report["model"] = {"family": model.meta["family"], "strategy": model.meta["model"]["strategy"]}
    report["model"] |= model_size(model, Path(params.paths.train))
    importance = model.engine.importance(model)
    if importance is not None:
        report["feature_importance"] = importance
    teacher = teacher_comparison(model, test)
    if teacher:
        report["teacher"] = teacher
        report["model"]["size_vs_teacher"] = round(report["model"]["parameter_bytes"] / teacher["parameter_bytes"], 4)
        report["model"]["accuracy_vs_teacher"] = round(report["test"]["accuracy"] - teacher["accuracy"], 4)
    out = Path(params.paths.reports) / "evaluate"
    with atomic_dir(out / "plots") as plots:
        for name, frame in plot_data.items():
            frame.to_csv(plots / name, index=False, float_format=f"%.{SIGNIFICANT}g")
    write_figures(out / "metrics.json", report)
    write_figures(Path(params.paths.reports) / "metrics.json", headline(report))
    # dvc.yaml declares the page: with review.per_class 0 it says there is none, rather than failing the stage
    none = "<!doctype html><title>Review</title><p>No review samples: evaluate.review.per_class is 0.</p>\n"
    write_text(Path(params.paths.reports) / "review.html", page if page is not None else none)
    verdict = "meets" if report["delivery"]["passed"] else "does NOT meet"
    print(f"model {verdict} the delivery standard: " + "; ".join(report["delivery"]["reasons"]))


if __name__ == "__main__":
    from millrace.entry import stage_main

    stage_main(main, __doc__)
