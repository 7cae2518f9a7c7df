"""clean: apply the declared cleaning operations, report what changed, then the clean gate.

Reads `<paths.acquire>/raw.parquet` and `clean.*` params; writes `<paths.clean>/clean.parquet`
and the cleaning report `reports/clean.json` (counts per operation, also a DVC metric), but only
after the `clean` gate (no nulls, enough rows, the committed suite's ranges and categories).
Run: `python -m stages.clean`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.errors import MillraceError
from stages.gate import Check, expectation, load_suite, run_gate
from stages.images import is_binary
from stages.io import atomic_dir, write_json, write_parquet
from stages.params import Clean, Missing, Outliers, load_params


def is_numeric(series: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series)


def normalise_strings(frame: pd.DataFrame, params: Clean) -> dict[str, int]:
    """Strip (and optionally lowercase) string cells; blank strings become missing."""
    changed = {}
    for column in frame.columns:
        if is_numeric(frame[column]) or is_binary(frame[column]):
            continue
        before = frame[column].astype("str").where(frame[column].notna())
        after = before
        if params.strip_strings:
            after = after.str.strip()
        if params.lowercase_strings:
            after = after.str.lower()
        after = after.mask(after == "")
        same = (before == after).fillna(False) | (before.isna() & after.isna())
        n = int((~same).sum())
        frame[column] = after
        if n:
            changed[column] = n
    return changed


def _fill_value(series: pd.Series, strategy: str, missing: Missing) -> Any:
    if strategy == "median":
        return series.median()
    if strategy == "mean":
        return series.mean()
    if strategy == "mode":
        modes = series.mode()
        if modes.empty:
            raise MillraceError(f"clean.missing: column {series.name!r} has no values to take a mode of")
        return modes.iloc[0]
    return missing.numeric_constant if is_numeric(series) else missing.categorical_constant


def fill_missing(frame: pd.DataFrame, target: str, missing: Missing) -> tuple[pd.DataFrame, dict]:
    """Rows with no target are dropped (never imputed); other columns per their kind."""
    report: dict[str, Any] = {"target_missing_dropped": int(frame[target].isna().sum())}
    frame = frame[frame[target].notna()]
    imputed, drop_columns = {}, []
    for column in frame.columns.drop(target):
        n = int(frame[column].isna().sum())
        if not n:
            continue
        strategy = missing.numeric if is_numeric(frame[column]) else missing.categorical
        if strategy == "drop":
            drop_columns.append(column)
            continue
        frame[column] = frame[column].fillna(_fill_value(frame[column], strategy, missing))
        imputed[column] = {"strategy": strategy, "cells": n}
    before = len(frame)
    frame = frame.dropna(subset=drop_columns) if drop_columns else frame
    report |= {"imputed": imputed, "missing_rows_dropped": before - len(frame)}
    return frame, report


def bounds(series: pd.Series, outliers: Outliers) -> tuple[float, float]:
    if outliers.method == "iqr":
        q1, q3 = series.quantile([0.25, 0.75])
        spread = outliers.iqr_k * (q3 - q1)
        return q1 - spread, q3 + spread
    mean, std = series.mean(), series.std()
    return mean - outliers.z * std, mean + outliers.z * std


def handle_outliers(frame: pd.DataFrame, target: str, outliers: Outliers) -> tuple[pd.DataFrame, dict]:
    if outliers.method == "none":
        return frame, {}
    report, keep = {}, pd.Series(True, index=frame.index)
    for column in frame.columns.drop(target):
        series = frame[column]
        if not is_numeric(series) or series.nunique() < 3:
            continue
        low, high = bounds(series, outliers)
        outside = (series < low) | (series > high)
        if not outside.any():
            continue
        report[column] = {"rows": int(outside.sum()), "low": float(low), "high": float(high)}
        if outliers.action == "clip":
            clipped = series.clip(low, high)
            frame[column] = clipped.round().astype(series.dtype) if series.dtype.kind in "iu" else clipped
        else:
            keep &= ~outside
    return frame[keep], {"method": outliers.method, "action": outliers.action, "columns": report}


def run(raw: pd.DataFrame, target: str, params: Clean) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Return the cleaned frame and a report of every change, in the order they were made."""
    if target not in raw.columns:
        raise MillraceError(f"data.target {target!r} is not a column; columns: {list(raw.columns)}")
    frame = raw.copy()
    report: dict[str, Any] = {"rows_in": len(frame)}
    report["strings_changed"] = normalise_strings(frame, params)
    if params.drop_duplicates:
        before = len(frame)
        frame = frame.drop_duplicates()
        report["duplicates_dropped"] = before - len(frame)
    frame, report["missing"] = fill_missing(frame, target, params.missing)
    frame, report["outliers"] = handle_outliers(frame, target, params.outliers)
    report["rows_out"] = len(frame)
    return frame.reset_index(drop=True), report


def clean_checks(frame: pd.DataFrame, target: str, min_rows: int, suite: list[dict]) -> list[Check]:
    generic = [expectation("expect_table_row_count_to_be_between", min_value=min_rows)]
    generic += [expectation("expect_column_values_to_not_be_null", column=c) for c in frame.columns]
    return [Check("table", frame, generic + suite)]


def main() -> None:
    params = load_params()
    raw = pd.read_parquet(Path(params.paths.acquire) / "raw.parquet")
    frame, report = run(raw, params.data.target, params.clean)
    report["rows_removed_share"] = float(np.round(1 - len(frame) / max(len(raw), 1), 4))
    gate = params.gates.clean
    suite = load_suite(params.paths.gx, gate.suite) if gate.suite else []
    write_json(Path(params.paths.reports) / "clean.json", report)
    run_gate(
        "clean",
        clean_checks(frame, params.data.target, gate.min_rows, suite),
        gx_dir=params.paths.gx,
        reports_dir=params.paths.reports,
    )
    with atomic_dir(params.paths.clean) as out:
        write_parquet(out / "clean.parquet", frame)


if __name__ == "__main__":
    from stages.cli import stage_main

    stage_main(main, __doc__)
