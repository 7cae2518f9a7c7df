"""Weak supervision: declared labelling rules vote on rows without a human label; votes are combined.

A rule (`label.rules` in params) votes one class for the rows it matches and abstains elsewhere:
`keywords` (any of these whole words, case-insensitive), `regex` (a search), or a threshold on a
numeric column (`above` / `below`). Votes are combined by majority or by weight; a tie abstains.
The analysis says, per rule, what share of rows it covers, overlaps with another rule on, and
conflicts with another rule on, and — where humans labelled the row too — how often it agrees.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

import numpy as np
import pandas as pd

from millrace.errors import MillraceError

ABSTAIN = None


def _matches(rule, frame: pd.DataFrame, text_column: str | None) -> pd.Series:
    column = rule.column or text_column
    if column is None:
        raise MillraceError(f"label.rules {rule.name!r}: name a column (no text column to default to)")
    if column not in frame.columns:
        raise MillraceError(f"label.rules {rule.name!r}: no column {column!r}; columns: {list(frame.columns)}")
    values = frame[column]
    if rule.keywords is not None:
        words = "|".join(re.escape(k) for k in rule.keywords)
        return values.astype("str").str.contains(rf"\b(?:{words})\b", case=False, regex=True).fillna(False)
    if rule.regex is not None:
        return values.astype("str").str.contains(rule.regex, regex=True).fillna(False)
    if not pd.api.types.is_numeric_dtype(values):
        raise MillraceError(
            f"label.rules {rule.name!r}: a threshold needs a numeric column, {column!r} is {values.dtype}"
        )
    hit = pd.Series(True, index=frame.index)
    if rule.above is not None:
        hit &= values > rule.above
    if rule.below is not None:
        hit &= values < rule.below
    return hit.fillna(False)


def votes(rules, frame: pd.DataFrame, text_column: str | None) -> pd.DataFrame:
    """One column per rule: its class where it matches, missing where it abstains."""
    table = {r.name: _matches(r, frame, text_column).map({True: r.label, False: ABSTAIN}) for r in rules}
    return pd.DataFrame(table, index=frame.index, dtype="object")


def combine(table: pd.DataFrame, rules, how: str) -> pd.Series:
    """Each row's winning class (majority, or the largest total weight); ties and no votes: missing."""
    weights = {r.name: (r.weight if how == "weighted" else 1.0) for r in rules}

    def winner(row: pd.Series) -> str | None:
        tally: Counter = Counter()
        for name, vote in row.items():
            if vote is not None and vote == vote:
                tally[vote] += weights[name]
        if not tally:
            return None
        (best, top), *rest = tally.most_common()
        return None if rest and rest[0][1] == top else best

    return table.apply(winner, axis=1).astype("object")


def analysis(table: pd.DataFrame, human: pd.Series) -> dict[str, dict[str, Any]]:
    """Per rule: coverage, overlap, conflict (shares of all rows) and accuracy against human labels."""
    voted = table.notna().to_numpy()
    values = table.to_numpy()
    report = {}
    for j, name in enumerate(table.columns):
        mine = voted[:, j]
        others = np.delete(voted, j, axis=1)
        overlap = mine & others.any(axis=1)
        disagree = np.zeros(len(table), dtype=bool)
        for k in [k for k in range(table.shape[1]) if k != j]:
            disagree |= mine & voted[:, k] & (values[:, k] != values[:, j])
        checked = mine & human.notna().to_numpy()
        correct = (values[checked, j] == human.to_numpy()[checked]).sum() if checked.any() else 0
        report[name] = {
            "coverage": round(float(mine.mean()), 4) if len(table) else 0.0,
            "overlap": round(float(overlap.mean()), 4) if len(table) else 0.0,
            "conflict": round(float(disagree.mean()), 4) if len(table) else 0.0,
            "votes": int(mine.sum()),
            "human_checked": int(checked.sum()),
            "accuracy_on_human": round(float(correct / checked.sum()), 4) if checked.any() else None,
        }
    return report
