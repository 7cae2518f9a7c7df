"""What each column of a table is to the model, inferred from its values: its role.

numeric, categorical (few distinct values), high_cardinality (many: a capped vocabulary), text (long,
varied strings: TF-IDF), datetime (expanded to its parts), and the columns a model must not read:
identifier (unique or near-unique per row, numeric or not), constant and empty (all missing). The
acquire stage records the roles in the profile and names the excluded columns; the input plan uses the
training split's roles. `data.features` picks the columns and overrides a role (`data.features.roles`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pandas as pd

from millrace.config.params import Data, FeatureSelection
from millrace.errors import MillraceError
from millrace.inputs.columns import is_numeric
from millrace.inputs.images import is_binary

EXCLUDED = ("identifier", "constant", "empty")
MAX_CATEGORIES = 50  # more distinct values than this: high_cardinality, its rarer values one "other" bucket
UNIQUE_SHARE = 0.95  # this share of rows or more with a value of their own: an identifier (or free text)
MIN_ROWS_FOR_IDENTIFIER = 20  # fewer rows prove nothing about uniqueness
TEXT_WORDS = 3.0  # strings averaging this many words or more, and varied, are free text
TEXT_MEAN_CHARS = 40
TEXT_UNIQUE_SHARE = 0.3
SAMPLE = 20_000  # string statistics are read from this many values at most
ID_NAME = re.compile(r"(^|[_\W])(id|key|uuid|guid|code)$|^id[_\W]|Id$|ID$", re.IGNORECASE)
ISO_DATE = re.compile(r"^\d{4}-\d{1,2}-\d{1,2}([ T]\d{1,2}:\d{2}(:\d{2}(\.\d+)?)?)?$")


@dataclass(frozen=True)
class ColumnRole:
    role: str
    why: str


def infer(series: pd.Series) -> ColumnRole:
    """One column's role and the evidence for it."""
    values = series.dropna()
    if values.empty:
        return ColumnRole("empty", "every value is missing")
    if is_binary(values):
        return ColumnRole("binary", "encoded bytes (an image)")
    distinct = int(values.nunique())
    if distinct == 1:
        return ColumnRole("constant", f"one value only ({values.iloc[0]!r})")
    rows = len(values)
    unique = distinct / rows
    many_rows = rows >= MIN_ROWS_FOR_IDENTIFIER
    if pd.api.types.is_datetime64_any_dtype(values):
        return ColumnRole("datetime", "dates")
    if pd.api.types.is_bool_dtype(values):
        return ColumnRole("categorical", "true or false")
    if is_numeric(values):
        whole = bool(np.all(np.mod(values.to_numpy(dtype=np.float64), 1) == 0))
        span = float(values.max() - values.min()) + 1
        if whole and many_rows and unique >= UNIQUE_SHARE and (ID_NAME.search(str(series.name)) or span <= 10 * rows):
            return ColumnRole("identifier", f"whole numbers, {unique:.0%} of rows with their own (a row number or id)")
        return ColumnRole("numeric", "numbers")
    text = values.astype("str")
    sample = text.sample(SAMPLE, random_state=0) if len(text) > SAMPLE else text
    if sample.str.match(ISO_DATE).mean() >= 0.95:
        return ColumnRole("datetime", "ISO dates")
    words = float(sample.str.split().str.len().mean())
    chars = float(sample.str.len().mean())
    if (words >= TEXT_WORDS or chars > TEXT_MEAN_CHARS) and unique >= TEXT_UNIQUE_SHARE:
        return ColumnRole("text", f"free text: {words:.1f} words on average, {unique:.0%} distinct")
    if many_rows and unique >= UNIQUE_SHARE:
        return ColumnRole("identifier", f"{unique:.0%} of rows with a value of their own")
    if distinct <= MAX_CATEGORIES:
        return ColumnRole("categorical", f"{distinct} categories")
    return ColumnRole("high_cardinality", f"{distinct} categories: the {MAX_CATEGORIES} most common kept")


def infer_all(frame: pd.DataFrame, columns: list[str]) -> dict[str, ColumnRole]:
    return {column: infer(frame[column]) for column in columns}


def selection(data: Data) -> FeatureSelection:
    """`data.features` in its long form."""
    if isinstance(data.features, FeatureSelection):
        return data.features
    return FeatureSelection(include=data.features)


def feature_roles(frame: pd.DataFrame, data: Data) -> tuple[dict[str, ColumnRole], dict[str, ColumnRole]]:
    """(the features with their roles, the columns left out with theirs).

    A column named in a list of features is used even if it looks like an identifier or a constant (the
    user said so); an empty one never is. Without a list, identifiers, constants and empty columns are
    left out. `roles` overrides what was inferred, either way.
    """
    chosen = selection(data)
    named = [*(chosen.include or []), *chosen.exclude, *chosen.roles]
    absent = sorted({c for c in named if c not in frame.columns})
    if absent:
        raise MillraceError(f"data.features names columns that do not exist: {absent}; columns: {list(frame.columns)}")
    listed = chosen.include is not None
    candidates = chosen.include if listed else [c for c in frame.columns if c not in (data.target, "label")]
    candidates = [c for c in candidates if c not in chosen.exclude]
    used, left_out = {}, {}
    for column in candidates:
        role = infer(frame[column])
        if column in chosen.roles:
            role = ColumnRole(chosen.roles[column], "data.features.roles")
        if role.role not in EXCLUDED:
            used[column] = role
        elif listed and role.role != "empty" and column not in chosen.roles:  # named: read as its values are
            kind = "numeric" if is_numeric(frame[column]) else "high_cardinality"
            used[column] = ColumnRole(kind, f"named in data.features (it looks like a {role.role}: {role.why})")
        else:
            left_out[column] = role
    if not used:
        raise MillraceError(
            f"no column is left to learn from: {_described(left_out)}; name the features in data.features "
            "or override a role in data.features.roles"
        )
    return used, left_out


def _described(roles: dict[str, ColumnRole]) -> str:
    return ", ".join(f"{c} ({r.role}: {r.why})" for c, r in roles.items()) or "none"


def excluded_message(left_out: dict[str, ColumnRole]) -> str | None:
    """One line naming the columns left out and why, or None."""
    shown = {c: r for c, r in left_out.items() if r.role in EXCLUDED}
    if not shown:
        return None
    return f"not used as features: {_described(shown)} (data.features.roles overrides a role)"
