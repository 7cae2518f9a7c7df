"""acquire for a language model: the source's rows as the canonical example table, behind the raw gate."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from millrace.config.params import Params, TextSource
from millrace.files import atomic_dir, write_json, write_parquet
from millrace.language.dataset import canonical
from millrace.quality.gates import Check, expectation, run_gate
from millrace.sources.read import read_source


def column_names(params: Params) -> dict[str, str]:
    """data.text.columns, with a text source's `text_column` as the text a corpus reads."""
    source = params.data.source
    named = {"text": source.text_column} if isinstance(source, TextSource) and params.data.task == "pretraining" else {}
    return named | params.data.text.columns


def main(params: Params) -> None:
    frame, read = read_source(params.data)
    for skipped in read.get("excluded", []):
        print(f"acquire: excluded {skipped['file']}: {skipped['reason']}")
    text = params.data.text
    examples = canonical(frame, params.data.task, text.format, column_names(params))
    rows = expectation("expect_table_row_count_to_be_between", min_value=1, set_by="data.source")
    run_gate("raw", [Check("table", examples, [rows])], gx_dir=params.paths.gx, reports_dir=params.paths.reports)
    print(f"acquire: {len(examples)} {params.data.task} examples from {len(frame)} rows")
    with atomic_dir(params.paths.acquire) as out:
        write_parquet(out / "raw.parquet", examples)
        quarantined = pd.DataFrame(read.get("quarantined", []), columns=["file", "line", "reason", "text"])
        quarantined.to_csv(Path(out) / "quarantine.csv", index=False)
        profile = {
            "rows": len(examples),
            "rows_in": len(frame) + len(quarantined),
            "rows_quarantined": len(quarantined),
            "columns": list(examples.columns),
            "source_columns": list(frame.columns),
            "task": params.data.task,
            "source": params.data.source.model_dump() | read | {"quarantined": len(quarantined)},
        }
        write_json(out / "profile.json", profile)
