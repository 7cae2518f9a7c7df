"""Where each row's label comes from: the target column, then human annotations (which win), then labelling
rules for the rows still without one; and what identifies a row across runs and tools."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from millrace.config.params import Label
from millrace.errors import MillraceError
from millrace.labelling import annotations, weak_supervision
from millrace.labelling.row_ids import row_hash_ids


def row_ids(frame: pd.DataFrame, target: str, key: str | None) -> pd.Series:
    """What identifies a row across runs and tools: the declared key, or a hash of its other values."""
    if key is not None:
        if key not in frame.columns:
            raise MillraceError(f"label.key {key!r} is not a column; columns: {list(frame.columns)}")
        return frame[key].astype("str")
    return row_hash_ids(frame.drop(columns=[target]))


def assign_labels(frame: pd.DataFrame, target: str, params: Label, text_column: str | None):
    """The target filled from annotations, then rules; each row's label source; and the report."""
    ids = row_ids(frame, target, params.key)
    known = frame[target].notna()
    source = pd.Series(np.full(len(frame), None, dtype=object), index=frame.index)
    source[known] = "column"  # one shared string (np.where would make a string object per row)
    report: dict[str, Any] = {}
    if not (params.annotations or params.rules):
        report["sources"] = _source_counts(source)
        return frame, source, ids, report
    given = frame[target].astype("object").where(known, None)  # values of any type, and None
    if params.annotations:
        read = pd.concat([annotations.read(spec, i) for i, spec in enumerate(params.annotations)], ignore_index=True)
        winners, ties = annotations.resolve(read)
        human = ids.map(winners)
        numeric = pd.api.types.is_numeric_dtype(frame[target].dropna()) and frame[target].notna().any()
        if numeric:
            human = pd.to_numeric(human, errors="coerce").where(human.notna(), None)
        changed = human.notna() & given.notna() & (human.astype("str") != given.astype("str"))
        report["annotations"] = {
            "rows": len(read),
            "matched": int(human.notna().sum()),
            "unmatched_keys": int((~winners.index.isin(ids)).sum()),
            "overrode_column": int(changed.sum()),
            "annotator_ties": ties,
            "agreement": annotations.agreement(read),
        }
        given = human.where(human.notna(), given)
        source = source.where(human.isna(), "annotation")
    if params.rules:
        votes = weak_supervision.votes(params.rules, frame, text_column)
        combined = weak_supervision.combine(votes, params.rules, params.combine)
        fills = given.isna() & combined.notna()
        report["rules"] = {
            "combine": params.combine,
            "labelled": int(fills.sum()),
            "abstained_or_tied": int((given.isna() & combined.isna()).sum()),
            "per_rule": weak_supervision.analysis(votes, given.where(source != "rule")),
        }
        given = given.where(~fills, combined)
        source = source.where(~fills, "rule")
    report["sources"] = _source_counts(source)
    filled = given.infer_objects()  # numbers stay numbers (regression, numeric classes); the rest is text
    if filled.dtype == object:
        filled = filled.astype("str").where(filled.notna())
    return frame.assign(**{target: filled}), source, ids, report


def _source_counts(source: pd.Series) -> dict[str, int]:
    return {k: int(v) for k, v in source.fillna("unlabelled").value_counts().items()}
