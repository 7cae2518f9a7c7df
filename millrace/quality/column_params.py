"""Params that name columns, checked against the data as soon as it is read: every problem at once.

A key left over from another dataset (`evaluate.slices: [island, sex]` on a table without them) would
otherwise fail a later stage, after training. The raw gate expects each column `references` lists to exist
(a failure names the key), and `columns_line` adds the columns the data does have to its message.
"""

from __future__ import annotations

from collections.abc import Iterator

import pandas as pd

from millrace.config.params import FeatureSelection, Params


def references(params: Params) -> Iterator[tuple[str, str]]:
    """(params key, column) for every column params.yaml names."""
    data, clean, label = params.data, params.clean, params.label
    yield "data.target", data.target
    features = data.features
    if isinstance(features, list):
        yield from (("data.features", c) for c in features)
    elif isinstance(features, FeatureSelection):
        yield from (("data.features.include", c) for c in features.include or [])
        yield from (("data.features.exclude", c) for c in features.exclude)
        yield from ((f"data.features.roles.{c}", c) for c in features.roles)
    if params.evaluate.slices != "auto":
        yield from (("evaluate.slices", c) for c in params.evaluate.slices)
    yield from (("clean.duplicate_key", c) for c in clean.duplicate_key or [])
    yield from ((f"clean.coerce.{c}", c) for c in clean.coerce)
    yield from ((f"clean.filters.{c}", c) for c in clean.filters)
    yield from ((f"clean.missing.columns.{c}", c) for c in clean.missing.columns)
    if label.key is not None:
        yield "label.key", label.key
    yield from ((f"label.rules[{r.name}].column", r.column) for r in label.rules if r.column is not None)


def missing(columns: list[str], params: Params) -> list[tuple[str, str]]:
    """(params key, column) for each column params.yaml names that the data does not have."""
    have = set(columns)
    return [(key, column) for key, column in references(params) if column not in have]


def columns_line(frame: pd.DataFrame, params: Params) -> str | None:
    """What to add to a failed raw gate's message when params name absent columns: the ones there are."""
    if not missing(list(frame.columns), params):
        return None
    return f"the data's columns are {list(frame.columns)}: edit the keys named above for this data"
