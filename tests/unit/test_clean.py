import numpy as np
import pandas as pd
import pytest

from stages.clean import run
from stages.errors import MillraceError
from stages.params import Clean, Missing, Outliers


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "y": ["a", "a", "b", None, "b", "a"],
            "x": [1.0, 1.0, np.nan, 4.0, 5.0, 2.0],
            "c": [" red", " red", "blue ", "red", None, "  "],
        }
    )


def test_duplicates_target_and_missing_values_are_handled_and_reported():
    cleaned, report = run(frame(), "y", Clean(outliers=Outliers(method="none")))
    assert report["duplicates_dropped"] == 1  # " red" twice, once stripped
    assert report["missing"]["target_missing_dropped"] == 1
    assert cleaned["y"].notna().all()
    assert cleaned.isna().sum().sum() == 0
    assert report["missing"]["imputed"]["x"] == {"strategy": "median", "cells": 1}
    assert set(cleaned["c"]) == {"red", "blue"}  # stripped; blanks were missing, then the mode
    assert report["rows_in"] == 6 and report["rows_out"] == len(cleaned) == 4


def test_rows_without_target_are_never_imputed():
    cleaned, _ = run(frame(), "y", Clean(missing=Missing(categorical="constant"), outliers=Outliers(method="none")))
    assert "missing" not in set(cleaned["y"])


def test_drop_strategy_drops_rows():
    cleaned, report = run(
        frame(), "y", Clean(missing=Missing(numeric="drop", categorical="drop"), outliers=Outliers(method="none"))
    )
    assert report["missing"]["missing_rows_dropped"] == 3  # rows 2, 4 and 5
    assert cleaned.isna().sum().sum() == 0


def test_iqr_clip_and_zscore_drop():
    data = pd.DataFrame({"y": ["a", "b"] * 10, "x": [float(v) for v in range(19)] + [1000.0]})
    clipped, report = run(data, "y", Clean(outliers=Outliers(method="iqr", action="clip")))
    assert clipped["x"].max() < 1000 and len(clipped) == 20
    assert report["outliers"]["columns"]["x"]["rows"] == 1
    dropped, _ = run(data, "y", Clean(outliers=Outliers(method="zscore", action="drop", z=3)))
    assert 1000.0 not in set(dropped["x"]) and len(dropped) == 19


def test_missing_target_column_is_named():
    with pytest.raises(MillraceError, match="'label'"):
        run(frame(), "label", Clean())
