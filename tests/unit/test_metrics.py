"""Bootstrap intervals, slices, plot data and baselines for the evaluate report."""

import numpy as np
import pandas as pd
import pytest

from stages import baselines
from stages.evaluate import delivery
from stages.features import fit
from stages.metrics import bootstrap, calibration_points, roc_points, slices
from stages.params import Evaluate


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
    from stages.errors import MillraceError

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
    found = baselines.run(fit(train, ["x", "c"]), train, test, "classification", seed=0)
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
