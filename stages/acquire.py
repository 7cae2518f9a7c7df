"""acquire: bring the declared data source in as one canonical Parquet table, behind the raw gate.

Reads `data.source`: a built-in dataset; a table file (CSV, TSV, Parquet, JSON, JSON Lines, Excel), a glob of
them or a .zip/.tar.gz holding them; the same over HTTP(S) (verified by sha256); a SQL query; a folder (or
archive) of images or .txt files, one sub-folder per class; or a table with a text column. Writes
`<paths.acquire>/raw.parquet` (images as their encoded bytes), `profile.json` (rows, columns, dtypes, nulls,
each column's role as inferred from its values, and the columns the model will not read, with why:
identifiers, constants, empty columns; provenance: each file's origin, size and sha256; files excluded and
why) and `quarantine.csv` (records that could not be parsed: file, line, reason, raw text), but only after the
`raw` gate has passed: the data contract (a committed suite), and every column a params key names (target,
features, slices, cleaning and labelling keys) present, all checked at once, each failure naming its key.
Run: `python -m stages.acquire`.

A causal language model (`data.task` sft or pretraining) takes millrace/language/steps/acquire.py instead.
"""

from __future__ import annotations

from typing import Any

import pandas as pd

from millrace.config.params import LANGUAGE_TASKS, Data, Params, Source, load_params
from millrace.errors import MillraceError
from millrace.files import atomic_dir, write_json, write_parquet
from millrace.inputs.roles import excluded_message, feature_roles, infer_all, selection
from millrace.quality.column_params import columns_line, references
from millrace.quality.gates import Check, GateFailed, expectation, load_suite, run_gate, suite_for
from millrace.sources.names import dataset_name
from millrace.sources.read import read_source

QUARANTINE_COLUMNS = ["file", "line", "reason", "text"]


QUARANTINE_EXAMPLES = 3  # records shown per reason; the rest are in quarantine.csv


def run(data: Data) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read the declared source; also return what was read, excluded and quarantined, each said once."""
    frame, read = read_source(data)
    for skipped in read.get("excluded", []):
        print(f"acquire: excluded {skipped['file']}: {skipped['reason']}")
    files = read.get("files")  # folder sources count their files instead
    for file in files if isinstance(files, list) else []:
        used = file.get("dialect")
        if used and used.get("sniffed"):
            shown = "tab" if used["delimiter"] == "\t" else repr(used["delimiter"])
            print(
                f"acquire: {file['file']}: delimiter {shown}, decimal mark {used['decimal']!r} (sniffed; "
                "data.source.delimiter and data.source.decimal declare them)"
            )
        if used and used.get("comment_lines"):
            print(f"acquire: {file['file']}: skipped {used['comment_lines']} comment lines (data.source.comment)")
    return frame, read


def quarantine_summary(quarantined: list[dict[str, Any]], written: str) -> list[str]:
    """A few lines however many records were quarantined: the count per reason and its first examples."""
    if not quarantined:
        return []
    by_reason: dict[str, list[dict[str, Any]]] = {}
    for bad in quarantined:
        by_reason.setdefault(bad["reason"], []).append(bad)
    lines = [f"acquire: quarantined {len(quarantined)} records that could not be parsed (all go to {written}):"]
    for reason, records in sorted(by_reason.items(), key=lambda kv: -len(kv[1])):
        where = ", ".join(f"{r['file']} line {r['line']}" for r in records[:QUARANTINE_EXAMPLES])
        more = f" and {len(records) - QUARANTINE_EXAMPLES} more" if len(records) > QUARANTINE_EXAMPLES else ""
        lines.append(f"  {len(records)} × {reason}: {where}{more}")
    return lines


def profile(
    frame: pd.DataFrame, source: Source, read: dict[str, Any] | None = None, target: str | None = None
) -> dict[str, Any]:
    read = dict(read or {})
    quarantined = len(read.pop("quarantined", []))
    inferred = infer_all(frame, [c for c in frame.columns if c != target])
    return {
        "rows": len(frame),
        "rows_in": len(frame) + quarantined,
        "rows_quarantined": quarantined,
        "columns": list(frame.columns),
        "dtypes": {c: str(t) for c, t in frame.dtypes.items()},
        "nulls": {c: int(n) for c, n in frame.isna().sum().items()},
        "roles": {c: {"role": r.role, "why": r.why} for c, r in inferred.items()}
        | ({target: {"role": "target"}} if target else {}),
        "source": source.model_dump() | read,
    }


def excluded_columns(frame: pd.DataFrame, data: Data) -> str | None:
    """The line naming the columns the model will not read (identifiers, constants, empty), or None."""
    if data.target not in frame.columns:
        return None
    try:
        left_out = feature_roles(frame, data)[1]
    except MillraceError:  # a column data.features names is missing: the raw gate says so
        return None
    return excluded_message(left_out)


def raw_checks(
    frame: pd.DataFrame, data: Data, suite: list[dict[str, Any]], params: Params | None = None
) -> list[Check]:
    """The data contract: the committed suite (if any) plus every column params.yaml names (the target and
    features from `data`; with the whole `params`, slices, cleaning and labelling keys too), each expected to
    exist with the key that names it."""
    chosen = selection(data)
    named: dict[str, list[str]] = {data.target: ["data.target"]}
    for key, columns in (("include", chosen.include or []), ("exclude", chosen.exclude), ("roles", chosen.roles)):
        where = "data.features" if isinstance(data.features, list) else f"data.features.{key}"
        for column in columns:
            named.setdefault(column, []).append(where)
    for key, column in references(params) if params is not None else []:
        if key not in named.setdefault(column, []):
            named[column].append(key)
    generic = [expectation("expect_table_row_count_to_be_between", min_value=1, set_by="data.source")]
    generic += [expectation("expect_column_to_exist", column=c, set_by=", ".join(keys)) for c, keys in named.items()]
    return [Check("table", frame, generic + suite)]


def main() -> None:
    params: Params = load_params()
    if params.data.task in LANGUAGE_TASKS:  # a causal language model: millrace/language/steps
        from millrace.language.steps import acquire as language

        language.main(params)
        return
    frame, read = run(params.data)
    for line in quarantine_summary(read.get("quarantined", []), f"{params.paths.acquire}/quarantine.csv"):
        print(line)
    name, said = suite_for(
        params.paths.gx, params.gates.raw.suite, dataset_name(params.data.source.model_dump()), "raw"
    )
    print(f"acquire: {said}")
    suite = load_suite(params.paths.gx, name, "gates.raw.suite") if name else []
    try:
        run_gate(
            "raw",
            raw_checks(frame, params.data, suite, params),
            gx_dir=params.paths.gx,
            reports_dir=params.paths.reports,
        )
    except GateFailed as failed:
        hint = columns_line(frame, params)
        raise GateFailed(f"{failed}\n{hint}" if hint else str(failed)) from None
    excluded = excluded_columns(frame, params.data)
    if excluded:
        print(f"acquire: {excluded}")
    with atomic_dir(params.paths.acquire) as out:
        write_parquet(out / "raw.parquet", frame)
        quarantined = pd.DataFrame(read.get("quarantined", []), columns=QUARANTINE_COLUMNS)
        quarantined.to_csv(out / "quarantine.csv", index=False)
        write_json(out / "profile.json", profile(frame, params.data.source, read, params.data.target))


if __name__ == "__main__":
    from millrace.entry import stage_main

    stage_main(main, __doc__)
