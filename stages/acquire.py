"""acquire: bring the declared data source in as one canonical Parquet table, behind the raw gate.

Reads `data.source` (a built-in dataset or a CSV / Parquet / JSON Lines file) and writes
`<paths.acquire>/raw.parquet` plus `profile.json` (rows, columns, dtypes, nulls, provenance),
but only after the `raw` gate (the data contract) has passed.
Run: `python -m stages.acquire`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from stages.errors import MillraceError
from stages.gate import Check, expectation, load_suite, run_gate
from stages.io import atomic_dir, sha256, write_json, write_parquet
from stages.params import BuiltinSource, Data, FileSource, Params, load_params

FORMATS = {".csv": "csv", ".parquet": "parquet", ".pq": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}


def load_builtin(name: str) -> pd.DataFrame:
    """A dataset that ships inside an installed package: nothing is downloaded."""
    if name == "penguins":
        import palmerpenguins

        return palmerpenguins.load_penguins()
    from sklearn import datasets

    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame.copy()
    if name != "diabetes":  # classification: readable class names instead of bare integers
        frame["target"] = pd.Series(bunch.target_names[bunch.target], dtype="str")
    return frame


def _format(source: FileSource) -> str:
    if source.format != "auto":
        return source.format
    suffix = Path(source.path).suffix.lower()
    if suffix not in FORMATS:
        raise MillraceError(
            f"data.source.path {source.path!r}: cannot tell the format from {suffix!r}; "
            f"set data.source.format to one of csv, parquet, jsonl"
        )
    return FORMATS[suffix]


def load_file(source: FileSource) -> pd.DataFrame:
    path = Path(source.path)
    if not path.is_file():
        raise MillraceError(f"data.source.path {source.path!r}: no such file")
    fmt = _format(source)
    try:
        if fmt == "csv":
            return pd.read_csv(path)
        if fmt == "parquet":
            return pd.read_parquet(path)
        return pd.read_json(path, lines=True)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise MillraceError(f"data.source.path {source.path!r}: cannot read as {fmt}: {exc}") from None


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """String column names and a clean index, so every source yields the same layout."""
    frame = frame.rename(columns=str).reset_index(drop=True)
    if frame.columns.duplicated().any():
        dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise MillraceError(f"the source has duplicate column names: {dupes}")
    return frame


def run(data: Data) -> pd.DataFrame:
    """Load the declared source into the canonical layout."""
    source = data.source
    frame = load_builtin(source.name) if isinstance(source, BuiltinSource) else load_file(source)
    return canonical(frame)


def profile(frame: pd.DataFrame, source: BuiltinSource | FileSource) -> dict[str, Any]:
    provenance: dict[str, Any] = source.model_dump()
    if isinstance(source, FileSource):
        path = Path(source.path)
        provenance |= {"bytes": path.stat().st_size, "sha256": sha256(path)}
    return {
        "rows": len(frame),
        "columns": list(frame.columns),
        "dtypes": {c: str(t) for c, t in frame.dtypes.items()},
        "nulls": {c: int(n) for c, n in frame.isna().sum().items()},
        "source": provenance,
    }


def raw_checks(frame: pd.DataFrame, data: Data, suite: list[dict[str, Any]]) -> list[Check]:
    """The data contract: the committed suite (if any) plus what params.yaml requires."""
    required = [data.target, *(data.features or [])]
    generic = [expectation("expect_table_row_count_to_be_between", min_value=1)]
    generic += [expectation("expect_column_to_exist", column=c) for c in required]
    return [Check("table", frame, generic + suite)]


def main() -> None:
    params: Params = load_params()
    frame = run(params.data)
    suite = load_suite(params.paths.gx, params.gates.raw.suite) if params.gates.raw.suite else []
    run_gate(
        "raw",
        raw_checks(frame, params.data, suite),
        gx_dir=params.paths.gx,
        reports_dir=params.paths.reports,
    )
    with atomic_dir(params.paths.acquire) as out:
        write_parquet(out / "raw.parquet", frame)
        write_json(out / "profile.json", profile(frame, params.data.source))


if __name__ == "__main__":
    from stages.cli import stage_main

    stage_main(main, __doc__)
