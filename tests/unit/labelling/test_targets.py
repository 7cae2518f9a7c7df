"""The task the target column says: params first, then what the values look like; regression needs numbers."""

from __future__ import annotations

import pandas as pd
import pytest

from millrace.errors import MillraceError
from millrace.labelling.targets import task_of


@pytest.mark.parametrize(
    ("values", "declared", "task"),
    [
        (["a", "b"] * 10, "auto", "classification"),
        ([0, 1] * 10, "auto", "classification"),
        (list(range(30)), "auto", "regression"),
        ([0.5, 1.0] * 10, "auto", "regression"),
        (list(range(30)), "classification", "classification"),
        ([0, 1] * 10, "regression", "regression"),
    ],
)
def test_task_follows_params_or_the_target(values, declared, task):
    assert task_of(pd.Series(values, name="y"), declared) == task


def test_regression_on_text_is_refused():
    with pytest.raises(MillraceError, match="not numeric"):
        task_of(pd.Series(["a", "b"], name="y"), "regression")
