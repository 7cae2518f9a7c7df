"""The fitted preprocessing of a table model: fitted here on the training split, applied everywhere by
`table_transform.py` (numpy only, so the edge loader runs it too).

`fit` reads each feature's role (`roles.py`) and the clean stage's params, and learns from the training
split alone: imputation values, outlier bounds, means and deviations, category vocabularies (capped for
high-cardinality columns, the rest one "other" bucket), date parts and a TF-IDF vocabulary for free text.
It also carries the rules a record must meet (`clean.filters`, columns where a missing value is dropped)
and the input signature the server documents. The plan is plain JSON (`preprocess.json`) and travels with
the model. Images and text have plans of their own (`images.py`, `texts.py`); `plans.py` picks one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from millrace.config.params import Clean
from millrace.errors import MillraceError
from millrace.inputs import table_transform
from millrace.inputs.columns import is_numeric
from millrace.inputs.feature_error import FeatureError
from millrace.inputs.table_transform import Counts, Factorized, RecordError, TableTransform, as_text

if TYPE_CHECKING:
    from millrace.inputs.roles import ColumnRole

TEXT_VOCABULARY = 500  # TF-IDF terms kept per free-text column (the most frequent in the training split)
SIGNATURE_TYPES = {
    "numeric": "number",
    "categorical": "string",
    "high_cardinality": "string",
    "datetime": "datetime",
    "text": "text",
}


@dataclass(frozen=True)
class FeaturePlan:
    spec: dict[str, Any]  # what preprocess.json holds: see table_transform.py

    kind = "tabular"
    input_names = ("features",)

    @cached_property
    def transform(self) -> TableTransform:
        return TableTransform(self.spec)

    def encode(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        """The model's named inputs for these records."""
        return self.encode_counted(frame)[0]

    def encode_counted(self, frame: pd.DataFrame) -> tuple[dict[str, np.ndarray], Counts]:
        """The inputs, and how many values were missing or unseen per column."""
        absent = [c for c in self.columns if c not in frame.columns]
        if absent:
            raise FeatureError(f"missing features: {absent}")
        columns = {c: _column(frame[c], self.roles.get(c)) for c in self._read if c in frame.columns}
        return self._apply(columns, len(frame))

    def encode_records(self, records: Sequence[Mapping[str, Any]]) -> dict[str, np.ndarray]:
        """The model's named inputs for records as a client sends them (no DataFrame)."""
        return self.encode_records_counted(records)[0]

    def encode_records_counted(self, records: Sequence[Mapping[str, Any]]) -> tuple[dict[str, np.ndarray], Counts]:
        """As `encode_records`; a feature no record has is a missing feature, one some records lack is missing
        in those (imputed and counted)."""
        try:
            matrix, counts = self.transform.transform_records(records)
        except RecordError as exc:
            raise FeatureError(str(exc), exc.row) from None
        return {"features": matrix}, counts

    def _apply(self, columns: dict[str, Any], rows: int) -> tuple[dict[str, np.ndarray], Counts]:
        try:
            matrix, counts = self.transform.transform(columns, rows)
        except RecordError as exc:
            raise FeatureError(str(exc), exc.row) from None
        return {"features": matrix}, counts

    @cached_property
    def roles(self) -> dict[str, str]:
        return {c["name"]: c["role"] for c in self.spec["columns"]}

    @cached_property
    def _read(self) -> list[str]:
        """The features, then any other column a rule reads."""
        return list(dict.fromkeys([*self.columns, *(r["column"] for r in self.spec.get("rules", []))]))

    @property
    def columns(self) -> list[str]:
        return [c["name"] for c in self.spec["columns"]]

    @property
    def width(self) -> int:
        return self.transform.width

    def to_json(self) -> dict[str, Any]:
        return self.spec

    def signature(self) -> list[dict[str, Any]]:
        """What a record may hold: each feature's name, type and whether it may be missing (imputed)."""
        required = {r["column"] for r in self.spec.get("rules", []) if r.get("required")}
        found = []
        for column in self.spec["columns"]:
            entry = {"name": column["name"], "type": SIGNATURE_TYPES[column["role"]], "role": column["role"]}
            if column.get("coerce") == "bool":
                entry["type"] = "boolean"
            entry["may_be_missing"] = column["name"] not in required
            if column["role"] in ("categorical", "high_cardinality"):
                entry["categories"] = column["vocabulary"]
            found.append(entry)
        return found

    def describe(self) -> dict[str, Any]:
        by_role: dict[str, Any] = {"numeric": [], "categorical": {}, "datetime": [], "text": []}
        for column in self.spec["columns"]:
            role = column["role"]
            if role in ("categorical", "high_cardinality"):
                by_role["categorical"][column["name"]] = column["vocabulary"]
            else:
                by_role[role].append(column["name"])
        return by_role | {"roles": self.roles, "excluded": self.spec.get("excluded", {}), "width": self.width}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FeaturePlan:
        if "columns" not in data:
            raise MillraceError(
                "this model's preprocess.json predates the fitted preprocessing (millrace < 0.3); retrain it"
            )
        return cls(spec=data)


def _column(series: pd.Series, role: str | None) -> Any:
    """A frame's column in the form the transform reads fastest: numbers as float64, dates as datetime64,
    text factorized (each distinct value repaired and looked up once), anything else as objects."""
    if role == "numeric" and is_numeric(series):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    if role == "datetime" and pd.api.types.is_datetime64_any_dtype(series):
        if getattr(series.dt, "tz", None) is not None:
            series = series.dt.tz_convert("UTC").dt.tz_localize(None)
        return series.to_numpy(dtype="datetime64[s]")
    if role in ("categorical", "high_cardinality", "text") or role is None:
        codes, distinct = pd.factorize(series, use_na_sentinel=True)
        return Factorized(codes, [as_text(v) for v in distinct])
    return series.to_numpy(dtype=object)


def fit(
    frame: pd.DataFrame,
    roles: dict[str, ColumnRole],
    clean: Clean,
    excluded: dict[str, ColumnRole] | None = None,
) -> FeaturePlan:
    """The preprocessing of `roles`' columns, fitted on `frame` (the training split) and `clean`'s params."""
    from millrace.quality.cleaning import text_operation_names  # fitting only: the server never imports it

    operations = text_operation_names(clean, model=True)
    rules = _rules(frame, roles, clean)
    spec: dict[str, Any] = {"kind": "tabular", "version": 2, "text_operations": operations, "columns": []}
    for name, role in roles.items():
        fitter = FITTERS[role.role]
        try:
            spec["columns"].append({"name": name, "role": role.role, **fitter(frame[name], clean, operations)})
        except RecordError as exc:
            raise MillraceError(f"{exc} in the training split; data.features.roles.{name} sets its role") from None
    spec["rules"] = rules
    spec["excluded"] = {c: f"{r.role}: {r.why}" for c, r in (excluded or {}).items()}
    return FeaturePlan(spec)


def _strategy(column: str, clean: Clean, numeric: bool) -> str:
    missing = clean.missing
    return missing.columns.get(column) or (missing.numeric if numeric else missing.categorical)


def _rules(frame: pd.DataFrame, roles: dict[str, ColumnRole], clean: Clean) -> list[dict[str, Any]]:
    """What the clean stage would quarantine a record for, so the server refuses it too."""
    rules: list[dict[str, Any]] = []
    if "filters" in clean.steps:
        for column, rule in clean.filters.items():
            found: dict[str, Any] = {"column": column, "key": f"clean.filters.{column}"}
            if rule.allowed is not None:
                found["allowed"] = list(rule.allowed)
            else:
                found |= {"min": rule.min, "max": rule.max}
            rules.append(found)
    if "missing" in clean.steps:
        for column, role in roles.items():
            numeric = role.role in ("numeric", "datetime")
            if _strategy(column, clean, numeric) == "drop":
                key = (
                    f"clean.missing.columns.{column}"
                    if column in clean.missing.columns
                    else ("clean.missing.numeric" if numeric else "clean.missing.categorical")
                )
                rules.append({"column": column, "key": key, "required": True})
    return rules


def _numbers(series: pd.Series) -> np.ndarray:
    if is_numeric(series):
        return series.to_numpy(dtype=np.float64, na_value=np.nan)
    return table_transform.as_numbers(series.to_numpy(dtype=object), str(series.name))


def _fill(values: pd.Series, strategy: str, constant: Any) -> Any:
    present = values.dropna()
    if present.empty:
        return constant
    if strategy == "median":
        return float(present.median())
    if strategy == "mean":
        return float(present.mean())
    if strategy == "mode":
        return present.mode().sort_values().iloc[0]  # ties: the smallest, the same on every machine
    return constant


def _fit_numeric(series: pd.Series, clean: Clean, operations: list[str]) -> dict[str, Any]:
    from millrace.quality.cleaning import bounds

    values = pd.Series(_numbers(series))
    strategy = _strategy(str(series.name), clean, numeric=True)
    fill = float(_fill(values, strategy, clean.missing.numeric_constant))
    filled = values.fillna(fill)
    found: dict[str, Any] = {"fill": fill, "clip": None}
    outliers = clean.outliers
    if "outliers" in clean.steps and outliers.method != "none" and outliers.action == "clip" and filled.nunique() >= 3:
        low, high = bounds(filled, outliers)
        found["clip"] = [float(low), float(high)]
        filled = filled.clip(low, high)
    std = float(filled.std(ddof=0))
    return found | {"mean": float(filled.mean()), "std": std if std > 0 else 1.0}


def _fit_categorical(series: pd.Series, clean: Clean, operations: list[str]) -> dict[str, Any]:
    from millrace.inputs.roles import MAX_CATEGORIES

    found: dict[str, Any] = {}
    if clean.coerce.get(str(series.name)) == "bool":
        found["coerce"] = "bool"
    factorized = _column(series, "categorical")
    texts = np.array([table_transform.repaired(v, operations) for v in factorized.distinct] + [None], dtype=object)
    values = pd.Series(texts[np.where(factorized.codes < 0, len(texts) - 1, factorized.codes)], dtype=object)
    strategy = _strategy(str(series.name), clean, numeric=False)
    fill = (
        None
        if strategy == "drop"
        else _fill(values, "mode" if strategy == "mode" else "constant", clean.missing.categorical_constant)
    )
    counts = values.fillna(fill).value_counts() if fill is not None else values.value_counts()
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    kept = sorted(str(v) for v, _ in ranked[:MAX_CATEGORIES])
    return found | {"fill": fill, "vocabulary": kept, "other": len(ranked) > MAX_CATEGORIES}


def _fit_datetime(series: pd.Series, clean: Clean, operations: list[str]) -> dict[str, Any]:
    moments = _column(series, "datetime")
    if not isinstance(moments, np.ndarray) or moments.dtype.kind != "M":
        moments = table_transform.as_datetimes(series.to_numpy(dtype=object), str(series.name))
    parts = {}
    for name, values in table_transform.date_parts(moments).items():
        present = values[~np.isnan(values)]
        if len(present) == 0 or (present == present[0]).all():
            continue  # a part that never varies in training (every hour 0, one year) tells the model nothing
        fill = float(np.median(present))
        filled = np.where(np.isnan(values), fill, values)
        std = float(filled.std())
        parts[name] = {"fill": fill, "mean": float(filled.mean()), "std": std if std > 0 else 1.0}
    return {"parts": parts}


def _fit_text(series: pd.Series, clean: Clean, operations: list[str]) -> dict[str, Any]:
    from sklearn.feature_extraction.text import TfidfVectorizer

    factorized = _column(series, "text")
    distinct = [table_transform.repaired(v, operations) for v in factorized.distinct]
    texts = [distinct[c] if c >= 0 else "" for c in factorized.codes]
    vectorizer = TfidfVectorizer(max_features=TEXT_VOCABULARY, token_pattern=table_transform.TOKEN.pattern)
    try:
        vectorizer.fit(texts)
    except ValueError:  # no word of two letters or more in any training text
        raise MillraceError(f"free-text column {series.name!r} has no words in the training split") from None
    vocabulary = sorted(vectorizer.vocabulary_, key=vectorizer.vocabulary_.get)
    return {"vocabulary": vocabulary, "idf": [float(v) for v in vectorizer.idf_]}


FITTERS = {
    "numeric": _fit_numeric,
    "categorical": _fit_categorical,
    "high_cardinality": _fit_categorical,
    "datetime": _fit_datetime,
    "text": _fit_text,
}


def text_positions(values: pd.Series, vocabulary: list[str]) -> np.ndarray:
    """The position in `vocabulary` of each value of a text Series; -1 where it is missing or not there.

    Arrow-backed text is looked up in Arrow: a pandas Index lookup first makes a Python string of every
    value (~70 MB and 0.3 s at 1e6 rows).
    """
    if getattr(values.dtype, "storage", None) == "pyarrow":
        import pyarrow as pa
        import pyarrow.compute as pc

        array = pa.array(values)
        found = pc.index_in(array, value_set=pa.array(vocabulary, type=array.type))
        return pc.fill_null(found, -1).to_numpy().astype(np.int64)
    return pd.Index(vocabulary, dtype=values.dtype).get_indexer(values).astype(np.int64, copy=False)
