"""Which kind of data a model sees (tabular, image or text), and the input plan for that kind.

A plan turns records into the model's named inputs (`plan.encode(frame) -> {name: array}`) and is
saved as `preprocess.json` (plus `tokenizer.json` for text) beside the weights and in the deployed
bundle. `select` reads the kind from `data_kind`; train fits a plan with `fit`; every later stage
gets the same plan back with `load`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from millrace.errors import MillraceError
from millrace.files import read_json, write_json
from millrace.inputs import images, roles, tabular, texts
from millrace.inputs.table_transform import Counts

PREPROCESS = "preprocess.json"

Plan = tabular.FeaturePlan | images.ImagePlan | texts.TextPlan


def declared_text_column(data_params) -> str | None:
    """The text column a `kind: text` source names: text however short its entries are."""
    source = data_params.source
    return source.text_column if getattr(source, "kind", None) == "text" else None


def data_kind(frame: pd.DataFrame, columns: list[str], text_column: str | None = None) -> tuple[str, str | None]:
    """(kind, the image or text column): image bytes make it image data; a declared text column, or long
    strings as the only feature, text. Long strings beside other features are a table's free-text column."""
    image = images.image_column(frame, columns)
    if image is not None:
        return "image", image
    if text_column is not None and text_column in columns:
        return "text", text_column
    text = texts.text_columns(frame, columns)
    if text and len(columns) == 1:
        return "text", text[0]
    return "tabular", None


def feature_columns(frame: pd.DataFrame, data_params) -> list[str]:
    """The columns the model reads (`data.features`, identifiers, constants and empty columns left out)."""
    return list(roles.feature_roles(frame, data_params)[0])


def fit(frame: pd.DataFrame, params) -> Plan:
    """The input plan, fitted on `frame` (the training split); `params` is the whole params.yaml."""
    data_params = params.data
    used, left_out = roles.feature_roles(frame, data_params)
    columns = list(used)
    kind, column = data_kind(frame, columns, declared_text_column(data_params))
    if kind != "tabular" and len(columns) > 1:
        others = [c for c in columns if c != column]
        raise MillraceError(
            f"{kind} data: the model reads the {kind} column {column!r} only, but data.features also names {others}; "
            f"set data.features: [{column}]"
        )
    if kind == "image":
        return images.fit(frame, column, data_params.image.size, data_params.image.channels)
    if kind == "text":
        return texts.fit(column, data_params.text.max_length)
    return tabular.fit(frame, used, params.clean, left_out)


def encode_records(plan: Plan, records: Sequence[Mapping[str, Any]]) -> tuple[dict[str, np.ndarray], Counts]:
    """The model's named inputs for records as a client sends them, and the missing and unseen values counted:
    a tabular plan reads them as they are, images and text go through a frame (their decoding and tokenising
    cost far more than it)."""
    if isinstance(plan, tabular.FeaturePlan):
        return plan.encode_records_counted(records)
    return plan.encode(pd.DataFrame.from_records(records)), Counts()


def save(plan: Plan, directory: Path) -> None:
    write_json(directory / PREPROCESS, plan.to_json())
    if isinstance(plan, texts.TextPlan):
        plan.save_files(directory)


def load(directory: Path | str) -> Plan:
    directory = Path(directory)
    data: dict[str, Any] = read_json(directory / PREPROCESS)
    kind = data.get("kind", "tabular")
    if kind == "image":
        return images.ImagePlan.from_json(data)
    if kind == "text":
        return texts.TextPlan.from_json(data, directory)
    return tabular.FeaturePlan.from_json(data)
