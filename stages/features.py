"""Tabular feature encoding shared by train, evaluate, deploy and serve: records → a float matrix.

Numeric columns are standardised with the training split's mean and std; categorical columns
are one-hot encoded over the training split's vocabulary. The plan is plain JSON
(`preprocess.json`) and `encode` needs only numpy and pandas, so the deployed bundle carries it.
Images and text have plans of their own (`stages/images.py`, `stages/texts.py`); `stages/plans.py`
picks one.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from stages.errors import MillraceError


class FeatureError(MillraceError):
    """A record does not fit the plan: a missing feature, a wrong type, an unseen category."""

    def __init__(self, message: str, row: int | None = None) -> None:
        super().__init__(message)
        self.row = row  # within the frame being encoded, when one row is to blame


@dataclass(frozen=True)
class FeaturePlan:
    numeric: dict[str, tuple[float, float]]  # column -> (mean, std)
    categorical: dict[str, list[str]]  # column -> vocabulary

    kind = "tabular"
    input_names = ("features",)

    def encode(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """The model's named inputs for these records."""
        return {"features": encode(frame, self)}

    @property
    def columns(self) -> list[str]:
        return [*self.numeric, *self.categorical]

    @property
    def width(self) -> int:
        return len(self.numeric) + sum(len(v) for v in self.categorical.values())

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, **asdict(self)}

    def describe(self) -> dict[str, Any]:
        return {"numeric": list(self.numeric), "categorical": self.categorical, "width": self.width}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeaturePlan:
        numeric = {k: (float(m), float(s)) for k, (m, s) in data["numeric"].items()}
        return cls(numeric=numeric, categorical={k: list(v) for k, v in data["categorical"].items()})


def feature_columns(frame: pd.DataFrame, target: str, declared: list[str] | None) -> list[str]:
    excluded = {target, "label"}
    if declared is None:
        return [c for c in frame.columns if c not in excluded]
    missing = [c for c in declared if c not in frame.columns]
    if missing:
        raise MillraceError(f"data.features names columns that do not exist: {missing}")
    return list(declared)


def fit(frame: pd.DataFrame, columns: list[str]) -> FeaturePlan:
    numeric, categorical = {}, {}
    for column in columns:
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series) and not pd.api.types.is_bool_dtype(series):
            std = float(series.std(ddof=0))
            numeric[column] = (float(series.mean()), std if std > 0 else 1.0)
        else:
            categorical[column] = sorted(series.astype("str").unique())
    return FeaturePlan(numeric=numeric, categorical=categorical)


def _show(value: Any) -> str:
    """A value as the user wrote it: strings quoted, numbers and missing values plain."""
    return repr(value) if isinstance(value, str) else str(value)


def encode(frame: pd.DataFrame, plan: FeaturePlan) -> np.ndarray:
    """Encode a frame; a missing column, non-numeric value or unseen category is a FeatureError."""
    absent = [c for c in plan.columns if c not in frame.columns]
    if absent:
        raise FeatureError(f"missing features: {absent}")
    blocks = []
    for column, (mean, std) in plan.numeric.items():
        values = pd.to_numeric(frame[column], errors="coerce")
        bad = values.isna()
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise FeatureError(
                f"feature {column!r} needs a number, got {_show(frame[column].iloc[row])} (row {row})", row=row
            )
        blocks.append(((values.to_numpy(dtype=np.float64) - mean) / std)[:, None])
    for column, vocabulary in plan.categorical.items():
        values = frame[column].astype("str").where(frame[column].notna())
        index = {v: i for i, v in enumerate(vocabulary)}
        codes = values.map(index)
        if codes.isna().any():
            row = int(np.flatnonzero(codes.isna().to_numpy())[0])
            if values.iloc[row] is None or pd.isna(values.iloc[row]):
                raise FeatureError(f"feature {column!r} is missing (row {row}); allowed: {vocabulary}", row=row)
            raise FeatureError(
                f"feature {column!r} has unknown category {_show(frame[column].iloc[row])} (row {row}); "
                f"allowed: {vocabulary}",
                row=row,
            )
        one_hot = np.zeros((len(frame), len(vocabulary)))
        one_hot[np.arange(len(frame)), codes.to_numpy(dtype=np.int64)] = 1.0
        blocks.append(one_hot)
    return np.hstack(blocks).astype(np.float32) if blocks else np.zeros((len(frame), 0), np.float32)
