"""Bootstrap intervals, slices, plot data and baselines for the evaluate report."""

import numpy as np
import pandas as pd
import pytest
import torch

from millrace.config.params import Evaluate
from millrace.evaluation import baselines
from millrace.evaluation.delivery import delivery
from millrace.evaluation.metrics import bootstrap, calibration_points, quick, roc_points, scores, slices
from tests.helpers.params import plan_for


def test_bootstrap_interval_brackets_the_metric_and_is_seeded():
    rng = np.random.default_rng(0)
    actual = rng.integers(0, 2, 300)
    predicted = np.where(rng.random(300) < 0.8, actual, 1 - actual)  # about 80% right
    first = bootstrap("classification", actual, predicted, 300, seed=1)
    again = bootstrap("classification", actual, predicted, 300, seed=1)
    assert first == again and first["resamples"] == 300
    accuracy = (actual == predicted).mean()
    assert first["accuracy"]["low"] < accuracy < first["accuracy"]["high"]
    assert first["accuracy"]["high"] - first["accuracy"]["low"] < 0.15
    assert bootstrap("classification", actual, predicted, 0, seed=1) == {}


def draw_by_draw(task, actual, predicted, resamples, seed):
    """The intervals as `quick` scores each draw, one call per draw (how bootstrap computed them until 2026-11-24)."""
    rng = np.random.default_rng(seed)
    draws = [
        quick(task, actual[rows], predicted[rows])
        for rows in (rng.integers(0, len(actual), len(actual)) for _ in range(resamples))
    ]
    return {
        name: {"low": float(np.nanpercentile(v, 2.5)), "high": float(np.nanpercentile(v, 97.5)), "level": 0.95}
        for name, v in ((name, [d[name] for d in draws]) for name in draws[0])
    } | {"resamples": resamples}


@pytest.mark.filterwarnings("ignore:All-NaN slice")
@pytest.mark.parametrize("rows", [1, 7, 60])
def test_bootstrap_draws_score_as_quick_scores_each_draw(rows, monkeypatch):
    rng = np.random.default_rng(rows)
    labels = np.array(["Adelie", "Chinstrap", "Gentoo", "rare"])
    actual = labels[rng.choice(4, rows, p=[0.45, 0.3, 0.2, 0.05])]  # "rare" is absent from many draws
    predicted = np.where(rng.random(rows) < 0.7, actual, labels[rng.integers(0, 3, rows)])
    values = np.round(rng.normal(size=rows) * 3)  # ties, and draws of one repeated value (R² undefined)
    estimates = values + rng.normal(size=rows)
    monkeypatch.setattr("millrace.evaluation.metrics.BOOTSTRAP_BLOCK_CELLS", rows * 16)  # several blocks of draws
    for task, a, p in (("classification", actual, predicted), ("regression", values, estimates)):
        # repr: equal to the last digit, and NaN where the draw-by-draw scores give NaN
        assert repr(bootstrap(task, a, p, 50, seed=3)) == repr(draw_by_draw(task, a, p, 50, seed=3))


def test_slices_name_the_worst_judged_slice_and_bin_numbers():
    test = pd.DataFrame({"island": ["a"] * 10 + ["b"] * 10 + ["c"] * 2, "mass": np.arange(22.0)})
    actual = np.zeros(22, int)
    predicted = np.array([0] * 10 + [0] * 6 + [1] * 4 + [1] * 2)  # b is 60% right, tiny c 0%
    report = slices("classification", test, actual, predicted, ["island"], min_rows=5)
    assert report["columns"]["island"]["b"] == {"rows": 10, "accuracy": 0.6, "f1_macro": pytest.approx(0.375)}
    assert report["columns"]["island"]["c"]["rows"] == 2  # reported, too small to be judged
    assert report["worst"] == {"column": "island", "value": "b", "accuracy": 0.6}
    by_mass = slices("classification", test, actual, predicted, ["island", "mass"], min_rows=5)
    assert len(by_mass["columns"]["mass"]) == 4  # quartiles
    assert by_mass["worst"] == {"column": "mass", "value": "(15.75, 21.0]", "accuracy": 0.0}


def test_a_slice_column_that_is_not_there_is_named():
    from millrace.errors import MillraceError

    with pytest.raises(MillraceError, match=r"\['sex'\]"):
        slices("classification", pd.DataFrame({"x": [1]}), np.zeros(1), np.zeros(1), ["sex"], 1)


def test_plot_data_for_roc_and_calibration():
    probabilities = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    labels = np.array([0, 1, 1, 1])
    roc = roc_points(probabilities, labels)
    assert roc["fpr"].iloc[0] == 0 and roc["tpr"].iloc[-1] == 1 and roc["fpr"].is_monotonic_increasing
    calibration = calibration_points(probabilities, labels)
    assert calibration["rows"].sum() == 4
    assert set(calibration["accuracy"]) <= {0.0, 0.5, 1.0}


def test_baselines_train_on_the_same_split_and_the_standard_can_require_beating_them():
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=200), "c": rng.choice(["p", "q"], 200)})
    frame["label"] = ((frame["x"] > 0) ^ (frame["c"] == "q")).astype(int)
    train, test = frame.iloc[:150], frame.iloc[150:]
    found = baselines.run(plan_for(train, ["x", "c"], target="y"), train, test, "classification", seed=0)
    assert set(found["models"]) == {"logistic_regression", "hist_gradient_boosting"}
    assert found["best"]["name"] == "hist_gradient_boosting" and found["best"]["value"] > 0.9  # XOR: trees win

    standard = Evaluate(thresholds={"accuracy": 0.5}, baseline_margin=0.0)
    behind = delivery({"accuracy": 0.7}, standard, found)
    assert behind["passed"] is False
    assert any("vs baseline hist_gradient_boosting" in r for r in behind["reasons"])
    assert delivery({"accuracy": 0.7}, Evaluate(thresholds={"accuracy": 0.5}), found)["passed"] is True


@pytest.mark.parametrize(
    ("kind", "task", "names"),
    [
        ("tabular", "regression", {"ridge", "hist_gradient_boosting"}),
        ("image", "classification", {"svc_on_pixels"}),
        ("text", "classification", {"tfidf_logistic_regression"}),
    ],
)
def test_each_kind_and_task_has_its_baselines(kind, task, names):
    assert set(baselines.models(kind, task, seed=0)) == names


"""evaluate: scores against hand counts and numpy, and the delivery standard's floors and ceilings."""


def test_scores_match_a_hand_count():
    probabilities = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    metrics = scores(probabilities, [0, 1, 1, 1], ["a", "b"])
    assert metrics["accuracy"] == pytest.approx(0.75)
    assert metrics["per_class"]["b"]["recall"] == pytest.approx(2 / 3)
    assert metrics["per_class"]["a"]["precision"] == pytest.approx(0.5)
    assert metrics["per_class"]["b"]["support"] == 3
    assert metrics["confusion_matrix"]["counts"] == [[1, 0], [1, 2]]


def test_regression_scores_match_numpy():
    import numpy as np

    from millrace.evaluation.metrics import regression_scores

    actual = np.array([3.0, 5.0, 7.0, 9.0])
    predicted = torch.tensor([2.0, 5.0, 8.0, 9.0])
    metrics = regression_scores(predicted, actual)
    assert metrics["mse"] == pytest.approx(0.5)
    assert metrics["rmse"] == pytest.approx(0.5**0.5)
    assert metrics["mae"] == pytest.approx(0.5)
    assert metrics["r2"] == pytest.approx(1 - 2.0 / 20.0)
