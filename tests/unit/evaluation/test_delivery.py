"""The delivery standard: floors on scores, ceilings on errors, and a threshold the task does not measure named."""

import pytest

from millrace.config.params import Evaluate
from millrace.evaluation.delivery import delivery


def test_error_metrics_are_ceilings_and_others_floors():
    standard = Evaluate(thresholds={"r2": 0.3, "mae": 50})
    assert delivery({"r2": 0.5, "mae": 40.0}, standard)["passed"] is True
    failed = delivery({"r2": 0.5, "mae": 60.0}, standard)
    assert failed["passed"] is False and "test/mae 60.0000 > 50.0" in failed["reasons"]


def test_a_threshold_the_task_does_not_measure_is_named():
    from millrace.errors import MillraceError

    with pytest.raises(MillraceError, match=r"names \['accuracy'\].*use some of \['mse'"):
        delivery({"mse": 1.0, "rmse": 1.0, "mae": 1.0, "r2": 0.1}, Evaluate(thresholds={"accuracy": 0.9}))
