"""The cleaning steps, each on the table being cleaned: what it changed, and every row it removed, with why.

`STEPS` names them in their default order (`clean.steps` chooses and orders them): coerce declared types,
repair text (Unicode form, control characters, mojibake, whitespace), drop exact and keyed duplicates, keep
rows within declared filters, drop rows missing a value where `clean.missing` says drop, drop outliers where
`clean.outliers.action` says drop. A removed row is never lost: it goes to the quarantine with its step and
reason.

Cleaning decides about whole rows. Imputing missing values and clipping outliers are fitted on the training
split and belong to the model (millrace/inputs/tabular.py), so the served model takes raw records; the
`missing` and `outliers` steps here only count what the model will impute and clip. Text repair runs here
too (duplicates and labels are judged on repaired text) and again in the model, through the same functions.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from millrace.config.params import Clean, Outliers
from millrace.errors import MillraceError
from millrace.inputs.columns import is_numeric, is_text
from millrace.inputs.images import is_binary
from millrace.inputs.table_transform import FALSE, TEXT_OPERATIONS, TRUE

EXAMPLES = 5


class Cleaning:
    """The frame being cleaned, the rows removed so far (with step and reason) and the report."""

    def __init__(self, raw: pd.DataFrame, target: str) -> None:
        self.frame = raw.reset_index(drop=True).rename_axis("_row").copy()
        self.target = target
        self.removed: list[pd.DataFrame] = []
        self.report: dict[str, Any] = {"rows_in": len(raw)}

    def remove(self, mask: pd.Series, step: str, reason: pd.Series | str) -> int:
        """Move the rows under `mask` to the quarantine, each with its reason."""
        mask = mask.fillna(False).astype(bool)
        n = int(mask.sum())
        if n:
            rows = self.frame[mask].copy()
            why = reason.reindex(rows.index) if isinstance(reason, pd.Series) else reason
            self.removed.append(rows.assign(_step=step, _reason=why))
            self.frame = self.frame[~mask]
        return n

    def quarantine(self) -> pd.DataFrame:
        """Removed rows as text (their types differ between steps), images kept as bytes."""
        columns = [*self.frame.columns, "_step", "_reason"]
        if not self.removed:
            return pd.DataFrame({c: pd.Series(dtype="str") for c in ["_row", *columns]})
        rows = pd.concat([r.astype({c: "str" for c in r.columns if not is_binary(r[c])}) for r in self.removed])
        return rows.reset_index()[["_row", *columns]]


def _convert(series: pd.Series, kind: str) -> pd.Series:
    if kind in ("int", "float"):
        numbers = pd.to_numeric(series, errors="coerce")
        if kind == "float":
            return numbers.astype("float64")
        return numbers.where(numbers % 1 == 0).astype("Int64")
    if kind == "bool":
        if pd.api.types.is_bool_dtype(series):
            return series.astype("boolean")
        words = series.astype("str").str.strip().str.lower()
        return words.map(lambda w: True if w in TRUE else False if w in FALSE else None).astype("boolean")
    if kind == "datetime":
        return pd.to_datetime(series, errors="coerce", format="mixed")
    return series.astype("str").where(series.notna())


def _declared(state: Cleaning, key: str, columns: list[str]) -> None:
    """Columns that params name under `key` must exist."""
    missing = [c for c in columns if c not in state.frame.columns]
    if missing:
        raise MillraceError(f"{key}: no such columns {missing}; columns: {list(state.frame.columns)}")


def coerce(state: Cleaning, params: Clean) -> dict[str, Any]:
    report = {}
    _declared(state, "clean.coerce", list(params.coerce))
    for column, kind in params.coerce.items():
        series = state.frame[column]
        converted = _convert(series, kind)
        failed = series.notna() & converted.isna()
        examples = series[failed].astype("str").unique()[:EXAMPLES].tolist()
        reason = series[failed].astype("str").map(lambda v, c=column, k=kind: f"{c}: {v!r} does not convert to {k}")
        state.remove(failed, "coerce", reason)
        state.frame[column] = converted[~failed]
        report[column] = {"to": kind, "failed": int(failed.sum()), "examples": examples}
    return report


def text_operation_names(params: Clean, model: bool = False) -> list[str]:
    """The text operations `clean` declares, in the order they run (names of table_transform.TEXT_OPERATIONS).

    With `model`, those the model makes again on served records: all but mojibake repair, which mends files
    decoded with the wrong encoding (a client's JSON is text already), and would make every consumer of the
    model, the edge loader too, need ftfy."""
    if "text" not in params.steps:
        return []
    text = params.text
    names = ["mojibake_fixed"] if text.fix_mojibake and not model else []
    names += [f"unicode_{text.unicode_form}"] if text.unicode_form != "none" else []
    names += ["control_characters_removed"] if text.control_characters == "remove" else []
    names += ["whitespace_collapsed"] if text.collapse_whitespace else []
    names += ["stripped"] if params.strip_strings else []
    names += ["lowercased"] if params.lowercase_strings else []
    return names


def _text_operations(params: Clean) -> list[tuple[str, Callable[[str], str]]]:
    return [(name, TEXT_OPERATIONS[name]) for name in text_operation_names(params)]


def normalise_text(state: Cleaning, params: Clean) -> dict[str, dict[str, int]]:
    """Each operation's count of changed cells per column; a cell left blank becomes missing."""
    operations = _text_operations(params) + [("blank_to_missing", lambda s: s)]
    report: dict[str, dict[str, int]] = {}
    for column in [c for c in state.frame.columns if is_text(state.frame[c])]:
        present = state.frame[column].dropna().astype("str")
        # Texts repeat: each operation runs once per distinct value, and cells follow by code.
        codes, distinct = pd.factorize(present)
        current, cells_per_value = np.asarray(distinct, dtype=object), np.bincount(codes, minlength=len(distinct))
        for name, operation in operations:
            if name == "blank_to_missing":
                changed = current == ""
            else:
                mapped = np.array([operation(value) for value in current], dtype=object)
                changed, current = mapped != current, mapped
            if changed.any():
                report.setdefault(name, {})[column] = int(cells_per_value[changed].sum())
        values = pd.Series(current[codes], index=present.index)
        state.frame[column] = values[values != ""].reindex(state.frame.index).astype("str")
    return report


def drop_duplicates(state: Cleaning, params: Clean) -> dict[str, Any]:
    report: dict[str, Any] = {"exact": 0}
    if params.drop_duplicates:
        report["exact"] = state.remove(state.frame.duplicated(), "duplicates", "exact duplicate of an earlier row")
    if params.duplicate_key:
        _declared(state, "clean.duplicate_key", params.duplicate_key)
        repeated = state.frame.duplicated(subset=params.duplicate_key)
        reason = f"repeats the key {params.duplicate_key} of an earlier row"
        report["key"] = state.remove(repeated, "duplicates", reason)
    return report


def apply_filters(state: Cleaning, params: Clean) -> dict[str, int]:
    report = {}
    _declared(state, "clean.filters", list(params.filters))
    for column, rule in params.filters.items():
        series = state.frame[column]
        if rule.allowed is not None:
            outside = series.notna() & ~series.isin(rule.allowed)
            reason = series[outside].astype("str").map(lambda v, c=column: f"{c}={v!r} is not an allowed value")
        else:
            if not is_numeric(series):
                raise MillraceError(f"clean.filters.{column}: a range needs a numeric column, not {series.dtype}")
            low = -np.inf if rule.min is None else rule.min
            high = np.inf if rule.max is None else rule.max
            outside = series.notna() & ((series < low) | (series > high))
            reason = series[outside].map(lambda v, c=column, span=f"[{low:g}, {high:g}]": f"{c}={v} is outside {span}")
        report[column] = state.remove(outside, "filters", reason)
    return report


def fill_missing(state: Cleaning, params: Clean) -> dict[str, Any]:
    """Drop the rows missing a value where `clean.missing` says drop; count the rest, which the model imputes
    with values fitted on the training split. A missing target is left for the label stage to fill."""
    missing, target = params.missing, state.target
    report: dict[str, Any] = {"target_missing": int(state.frame[target].isna().sum())}
    _declared(state, "clean.missing.columns", list(missing.columns))
    imputed, dropped = {}, 0
    for column in state.frame.columns.drop(target):
        series = state.frame[column]
        n = int(series.isna().sum())
        if not n:
            continue
        strategy = missing.columns.get(column) or (missing.numeric if is_numeric(series) else missing.categorical)
        if strategy in ("median", "mean") and not is_numeric(series):
            raise MillraceError(
                f"clean.missing.columns.{column}: {strategy} needs numbers; {column!r} is {series.dtype}"
            )
        if strategy == "drop":
            dropped += state.remove(series.isna(), "missing", f"{column} is missing")
            continue
        imputed[column] = {"strategy": strategy, "cells": n, "by": "the model (fitted on the training split)"}
    return report | {"imputed": imputed, "missing_rows_dropped": dropped}


def bounds(series: pd.Series, outliers: Outliers) -> tuple[float, float]:
    if outliers.method == "iqr":
        q1, q3 = series.quantile([0.25, 0.75])
        spread = outliers.iqr_k * (q3 - q1)
        return q1 - spread, q3 + spread
    mean, std = series.mean(), series.std()
    return mean - outliers.z * std, mean + outliers.z * std


def handle_outliers(state: Cleaning, params: Clean) -> dict[str, Any]:
    """Drop outlying rows (`action: drop`), or count the values the model will clip to bounds fitted on the
    training split (`action: clip`; the counts here use all rows' bounds, for the report only)."""
    outliers = params.outliers
    if outliers.method == "none":
        return {}
    report = {}
    for column in state.frame.columns.drop(state.target):
        series = state.frame[column]
        if not is_numeric(series) or series.nunique() < 3:
            continue
        low, high = bounds(series, outliers)
        outside = (series < low) | (series > high)
        if not outside.any():
            continue
        report[column] = {"rows": int(outside.sum()), "low": float(low), "high": float(high)}
        if outliers.action == "drop":
            reason = f"{column} outside [{low:.4g}, {high:.4g}] ({outliers.method})"
            state.remove(outside, "outliers", reason)
    by = "the model (bounds fitted on the training split)" if outliers.action == "clip" else "clean"
    return {"method": outliers.method, "action": outliers.action, "by": by, "columns": report}


STEPS: dict[str, Callable[[Cleaning, Clean], Any]] = {
    "coerce": coerce,
    "text": normalise_text,
    "duplicates": drop_duplicates,
    "filters": apply_filters,
    "missing": fill_missing,
    "outliers": handle_outliers,
}
