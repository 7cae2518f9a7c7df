"""What the target column says: the task (classification or regression), the classes and each row's class id."""

from __future__ import annotations

import numpy as np
import pandas as pd

from millrace.errors import MillraceError
from millrace.inputs.tabular import text_positions

MAX_CLASSES = 20  # a numeric target with more distinct values than this is taken as continuous


def task_of(target: pd.Series, declared: str) -> str:
    """The task params declare, or, for `auto`, what the target looks like."""
    values = target.dropna()
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if declared == "regression" and not numeric:
        raise MillraceError(f"data.task is regression, but data.target {target.name!r} is not numeric ({values.dtype})")
    if declared != "auto":
        return declared
    if numeric and (values.nunique() > MAX_CLASSES or (values % 1 != 0).any()):
        return "regression"
    return "classification"


def label_map(target: pd.Series) -> list[str]:
    """Class names in a stable order (sorted as strings); a class's id is its index."""
    values = target.dropna()
    if values.nunique() > 1000:
        raise MillraceError(
            f"data.target {target.name!r} has {values.nunique()} distinct values: too many classes; "
            "set data.task: regression if it is a quantity"
        )
    return sorted(values.astype("str").unique())


def class_ids(target: pd.Series, classes: list[str]) -> np.ndarray:
    """Each value's class id (its index in `classes`, compared as text); -1 where missing or no class."""
    return text_positions(target.astype("str"), classes)
