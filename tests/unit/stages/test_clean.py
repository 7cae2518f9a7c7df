"""clean: each step on tiny frames, what it reports and quarantines; a NUL byte from acquire to clean."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from millrace.config.params import Clean, Data, Missing, Outliers
from millrace.errors import MillraceError
from stages.acquire import run as run_acquire
from stages.clean import run
from tests.helpers.params import parse

IMPUTED_BY = "the model (fitted on the training split)"


def acquire(source: dict, target: str = "kind") -> tuple[pd.DataFrame, dict]:
    data: Data = parse({"data": {"source": source, "target": target, "features": None}}).data
    return run_acquire(data)


def test_nul_bytes_survive_acquire_and_are_removed_by_clean(tmp_path):
    from stages.clean import run as clean

    path = tmp_path / "nul.csv"
    path.write_bytes(b"a,kind\nx\x00y,p\r\nz,q\n")
    frame, _ = acquire({"kind": "file", "path": str(path)})
    cleaned, report, _ = clean(frame, "kind", parse({}).clean)
    assert cleaned["a"].tolist() == ["xy", "z"]
    assert report["text"]["control_characters_removed"] == {"a": 1}


def frame() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "y": ["a", "a", "b", None, "b", "a"],
            "x": [1.0, 1.0, np.nan, 4.0, 5.0, 2.0],
            "c": [" red", " red", "blue ", "red", None, "  "],
        }
    )


def test_duplicates_target_and_missing_values_are_handled_and_reported():
    cleaned, report, quarantine = run(frame(), "y", Clean(outliers=Outliers(method="none")))
    assert report["duplicates"]["exact"] == 1  # " red" twice, once stripped
    assert report["missing"]["target_missing"] == 1  # kept for the label stage to label
    assert cleaned["y"].isna().sum() == 1
    # Imputation is the model's (fitted on the training split): clean leaves the values missing and counts them.
    assert cleaned["x"].isna().sum() == 1 and cleaned["c"].isna().sum() == 2
    assert report["missing"]["imputed"]["x"] == {"strategy": "median", "cells": 1, "by": IMPUTED_BY}
    assert set(cleaned["c"].dropna()) == {"red", "blue"}  # stripped; blanks became missing
    assert report["rows_in"] == 6 and report["rows_out"] == len(cleaned) == 5
    removed = quarantine[["_row", "_step", "_reason"]].values.tolist()
    assert removed == [[1, "duplicates", "exact duplicate of an earlier row"]]


def test_a_missing_target_is_never_imputed():
    cleaned, _, _ = run(frame(), "y", Clean(missing=Missing(categorical="constant"), outliers=Outliers(method="none")))
    assert "missing" not in set(cleaned["y"])


def test_drop_strategy_drops_rows():
    cleaned, report, quarantine = run(
        frame(), "y", Clean(missing=Missing(numeric="drop", categorical="drop"), outliers=Outliers(method="none"))
    )
    assert set(quarantine["_reason"]) >= {"x is missing", "c is missing"}
    assert report["missing"]["missing_rows_dropped"] == 3  # rows 2, 4 and 5
    assert cleaned.drop(columns="y").isna().sum().sum() == 0


def test_iqr_clip_is_counted_for_the_model_and_zscore_drop_quarantines():
    data = pd.DataFrame({"y": ["a", "b"] * 10, "x": [float(v) for v in range(19)] + [1000.0]})
    kept, report, _ = run(data, "y", Clean(outliers=Outliers(method="iqr", action="clip")))
    assert kept["x"].max() == 1000 and len(kept) == 20  # the model clips, to bounds fitted on the training split
    assert report["outliers"]["columns"]["x"]["rows"] == 1 and report["outliers"]["by"].startswith("the model")
    dropped, _, quarantine = run(data, "y", Clean(outliers=Outliers(method="zscore", action="drop", z=3)))
    assert 1000.0 not in set(dropped["x"]) and len(dropped) == 19
    assert quarantine["x"].tolist() == ["1000.0"] and quarantine["_step"].tolist() == ["outliers"]


def test_missing_target_column_is_named():
    with pytest.raises(MillraceError, match="'label'"):
        run(frame(), "label", Clean())


def test_coercion_reports_and_quarantines_what_does_not_convert():
    raw = pd.DataFrame(
        {
            "y": ["a", "b", "a", "b", "a", "b"],
            "age": ["31", "forty", "27", None, "3.5", "40"],
            "member": ["yes", "N", "true", "maybe", "0", "no"],
            "joined": ["2024-01-02", "2024-01-03", "2024-02-30", "2024-05-06", "2024-07-08", "2024-08-09"],
        }
    )
    params = Clean(steps=["coerce"], coerce={"age": "int", "member": "bool", "joined": "datetime"})
    cleaned, report, quarantine = run(raw, "y", params)
    assert report["coerce"]["age"] == {"to": "int", "failed": 2, "examples": ["forty", "3.5"]}
    assert report["coerce"]["member"]["failed"] == 1 and report["coerce"]["joined"]["failed"] == 1
    assert str(cleaned["age"].dtype) == "Int64" and cleaned["age"].tolist() == [31, 40]
    assert cleaned["member"].tolist() == [True, False]
    assert pd.api.types.is_datetime64_any_dtype(cleaned["joined"])
    assert dict(zip(quarantine["_row"], quarantine["_reason"], strict=True)) == {
        1: "age: 'forty' does not convert to int",
        4: "age: '3.5' does not convert to int",
        3: "member: 'maybe' does not convert to bool",
        2: "joined: '2024-02-30' does not convert to datetime",
    }
    assert quarantine.loc[quarantine["_row"] == 1, "age"].item() == "forty"  # kept as it arrived


def test_text_is_repaired_normalised_and_each_change_counted():
    raw = pd.DataFrame(
        {
            "y": ["a", "b", "a", "b"],
            "t": ["cafÃ©", "cafe\u0301", "tab\there\x00 and NUL", "  lots   of\r\n space  "],
        }
    )
    params = Clean(steps=["text"], text={"collapse_whitespace": True})
    cleaned, report, quarantine = run(raw, "y", params)
    assert cleaned["t"].tolist() == ["café", "café", "tab here and NUL", "lots of space"]
    assert report["text"]["mojibake_fixed"] == {"t": 1}
    assert report["text"]["unicode_NFC"] == {"t": 1}
    assert report["text"]["control_characters_removed"] == {"t": 2}
    assert quarantine.empty and report["rows_out"] == 4


def test_duplicates_on_a_key_keep_the_first_and_quarantine_the_rest():
    raw = pd.DataFrame({"id": [1, 2, 1, 3, 2], "y": ["a", "b", "a", "b", "c"], "x": [1.0, 2.0, 1.0, 3.0, 9.0]})
    cleaned, report, quarantine = run(raw, "y", Clean(steps=["duplicates"], duplicate_key=["id"]))
    assert cleaned["id"].tolist() == [1, 2, 3]
    assert report["duplicates"] == {"exact": 1, "key": 1}
    assert quarantine["_row"].tolist() == [2, 4]
    assert quarantine["_reason"].tolist()[1] == "repeats the key ['id'] of an earlier row"


def test_range_and_category_filters_quarantine_with_the_value():
    raw = pd.DataFrame({"y": ["a", "b", "a", "b"], "mass": [3500.0, -1.0, 4200.0, 99999.0], "island": list("PQPP")})
    filters = {"mass": {"min": 0, "max": 10000}, "island": {"allowed": ["P"]}}
    cleaned, report, quarantine = run(raw, "y", Clean(steps=["filters"], filters=filters))
    assert cleaned["mass"].tolist() == [3500.0, 4200.0]
    assert report["filters"] == {"mass": 2, "island": 0}
    assert quarantine["_reason"].tolist() == ["mass=-1.0 is outside [0, 10000]", "mass=99999.0 is outside [0, 10000]"]


def test_the_declared_order_is_the_order_run():
    raw = pd.DataFrame({"y": ["a", "a", "b"], "c": ["x ", "x", "z"]})
    strip_first, report, _ = run(raw, "y", Clean(steps=["text", "duplicates"]))
    dedupe_first, _, _ = run(raw, "y", Clean(steps=["duplicates", "text"]))
    assert len(strip_first) == 2 and len(dedupe_first) == 3
    assert list(report)[1:3] == ["text", "duplicates"]


def test_wrong_clean_params_name_the_key():
    from millrace.config.params import ParamsError

    with pytest.raises(ParamsError, match="clean.steps.*appear more than once"):
        parse({"clean": {"steps": ["text", "text"]}})
    with pytest.raises(ParamsError, match="clean.filters.mass: .*either min/max or allowed"):
        parse({"clean": {"filters": {"mass": {"min": 1, "allowed": [1]}}}})
    with pytest.raises(MillraceError, match=r"clean.coerce: no such columns \['age'\]"):
        run(frame(), "y", Clean(coerce={"age": "int"}))


def test_missing_values_can_be_handled_per_column():
    raw = pd.DataFrame({"y": ["a", "b", "a", "b"], "x": [1.0, None, 3.0, 10.0], "z": [5.0, 6.0, None, 8.0]})
    params = Clean(steps=["missing"], missing=Missing(columns={"x": "constant", "z": "drop"}, numeric_constant=-1))
    cleaned, report, quarantine = run(raw, "y", params)
    assert cleaned["x"].tolist()[::2] == [1.0, 10.0] and quarantine["_reason"].tolist() == ["z is missing"]
    assert report["missing"]["imputed"] == {"x": {"strategy": "constant", "cells": 1, "by": IMPUTED_BY}}
    texts = raw.assign(k=[None, "p", "q", "r"])
    with pytest.raises(MillraceError, match="clean.missing.columns.k: median needs numbers; 'k' is str"):
        run(texts, "y", Clean(steps=["missing"], missing=Missing(columns={"k": "median"})))
