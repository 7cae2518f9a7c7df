"""Suggest a data contract: profile a reference table and write a GE suite to edit and commit (like TFX SchemaGen).

`millrace suggest-expectations` (or `make suggest-expectations`) reads `<paths.acquire>/raw.parquet`
(or `--input FILE`) and writes `gx/expectations/<dataset>_raw.json` (or `--suite NAME`) in GE's own format: the
exact column set; per column its type, its null rate (no nulls, or at most the observed share plus a margin),
numeric ranges widened by a margin of the observed spread, the allowed values of low-cardinality
text columns, and non-empty text. Every expectation is `critical`; soften one with
`"severity": "warning"`. `gates.raw.suite: auto` runs `<dataset>_raw` (or name the suite there), and drift
from the contract fails the raw gate.
An existing suite is never overwritten without `--force`.
"""

from __future__ import annotations

import argparse
import json
import uuid
from pathlib import Path
from typing import Any

import pandas as pd

from millrace.errors import MillraceError
from millrace.files import write_text
from millrace.inputs.columns import is_numeric
from millrace.inputs.images import is_binary
from millrace.quality.gates import expectation

MAX_CATEGORIES = 20
RANGE_MARGIN = 0.1  # of the observed spread, on each side
NULL_MARGIN = 0.05  # absolute, on the share of missing values


def column_expectations(series: pd.Series) -> list[dict[str, Any]]:
    name, values = str(series.name), series.dropna()
    of_type = expectation("expect_column_values_to_be_of_type", column=name)
    of_type["kwargs"]["type_"] = str(series.dtype)  # `type_` is also expectation()'s own parameter
    found = [of_type]
    null_share = float(series.isna().mean()) if len(series) else 0.0
    if null_share == 0:
        found.append(expectation("expect_column_values_to_not_be_null", column=name))
    else:
        mostly = round(max(0.0, 1 - null_share - NULL_MARGIN), 4)
        found.append(expectation("expect_column_values_to_not_be_null", column=name, mostly=mostly))
    if values.empty or is_binary(series):
        return found
    if is_numeric(series):
        low, high = float(values.min()), float(values.max())
        pad = (high - low) * RANGE_MARGIN
        bounds = {"min_value": low - pad, "max_value": high + pad}
        found.append(expectation("expect_column_values_to_be_between", column=name, **bounds))
    elif values.nunique() <= MAX_CATEGORIES and values.nunique() <= max(len(values) // 2, 1):
        categories = sorted(values.astype("str").unique().tolist())
        found.append(expectation("expect_column_values_to_be_in_set", column=name, value_set=categories))
    elif pd.api.types.is_string_dtype(series):
        found.append(expectation("expect_column_value_lengths_to_be_between", column=name, min_value=1))
    return found


def suggest(frame: pd.DataFrame, name: str, source: str) -> dict[str, Any]:
    """A GE suite (as GE writes it to gx/expectations) describing `frame`."""
    expectations = [expectation("expect_table_columns_to_match_set", column_set=list(frame.columns), exact_match=True)]
    for column in frame.columns:
        expectations += column_expectations(frame[column])
    for item in expectations:
        item |= {"id": str(uuid.uuid4()), "severity": "critical"}
    notes = f"Suggested by millrace from {len(frame)} rows of {source}; edit, then commit."
    return {
        "name": name,
        "id": str(uuid.uuid4()),
        "expectations": expectations,
        "meta": {"notes": notes},
        "notes": None,
    }


def _read(path: Path) -> pd.DataFrame:
    from millrace.sources.tables import format_of, read_table

    fmt = format_of(path)
    if fmt is None:
        raise MillraceError(f"--input {str(path)!r}: cannot tell the format from its suffix")
    return read_table(path, fmt, where=f"--input {str(path)!r}").frame


def main(argv: list[str] | None = None) -> None:
    from millrace.config.params import load_params
    from millrace.sources.names import dataset_name

    parser = argparse.ArgumentParser(prog="millrace suggest-expectations", description=__doc__)
    parser.add_argument("--input", type=Path, help="a table to profile (default: <paths.acquire>/raw.parquet)")
    parser.add_argument("--suite", help="the suite's name (default: <dataset>_raw, which `gates.raw.suite: auto` runs)")
    parser.add_argument("--force", action="store_true", help="replace an existing suite of that name")
    args = parser.parse_args(argv)
    params = load_params()
    source = args.input or Path(params.paths.acquire) / "raw.parquet"
    if not source.is_file():
        raise MillraceError(f"{source}: no such file; run `dvc repro acquire` first or pass --input FILE")
    frame = _read(source)
    args.suite = args.suite or f"{dataset_name(params.data.source.model_dump()) or 'data'}_raw"
    target = Path(params.paths.gx) / "expectations" / f"{args.suite}.json"
    if target.exists() and not args.force:
        raise MillraceError(f"{target} exists; choose another --suite or pass --force to replace it")
    suite = suggest(frame, args.suite, str(source))
    write_text(target, json.dumps(suite, indent=2) + "\n")
    _print(suite, target)


def _print(suite: dict[str, Any], target: Path) -> None:
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"{target}: {len(suite['expectations'])} expectations")
    table.add_column("expectation")
    table.add_column("column")
    table.add_column("expected")
    for item in suite["expectations"]:
        kwargs = dict(item["kwargs"])
        column = kwargs.pop("column", "")
        shown = ", ".join(f"{k}={v}" for k, v in kwargs.items())
        table.add_row(item["type"], str(column), shown if len(shown) < 80 else shown[:77] + "…")
    console = Console()
    console.print(table)
    console.print(f"next: review it, commit it, and set gates.raw.suite: {suite['name']} in params.yaml")
