"""evaluate: scores against hand counts and numpy, and the delivery standard's floors and ceilings."""

import pytest
import torch

from millrace.config.params import Evaluate
from stages.evaluate import delivery, scores


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

    from stages.evaluate import regression_scores

    actual = np.array([3.0, 5.0, 7.0, 9.0])
    predicted = torch.tensor([2.0, 5.0, 8.0, 9.0])
    metrics = regression_scores(predicted, actual)
    assert metrics["mse"] == pytest.approx(0.5)
    assert metrics["rmse"] == pytest.approx(0.5**0.5)
    assert metrics["mae"] == pytest.approx(0.5)
    assert metrics["r2"] == pytest.approx(1 - 2.0 / 20.0)


def test_error_metrics_are_ceilings_and_others_floors():
    standard = Evaluate(thresholds={"r2": 0.3, "mae": 50})
    assert delivery({"r2": 0.5, "mae": 40.0}, standard)["passed"] is True
    failed = delivery({"r2": 0.5, "mae": 60.0}, standard)
    assert failed["passed"] is False and "test/mae 60.0000 > 50.0" in failed["reasons"]


def test_a_threshold_the_task_does_not_measure_is_named():
    from millrace.errors import MillraceError

    with pytest.raises(MillraceError, match=r"names \['accuracy'\].*use some of \['mse'"):
        delivery({"mse": 1.0, "rmse": 1.0, "mae": 1.0, "r2": 0.1}, Evaluate(thresholds={"accuracy": 0.9}))
