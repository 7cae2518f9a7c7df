"""clean for a language model: normalised chats with repeats quarantined, or a cleaned corpus; then the gate
(enough examples, no step removing too many, every example's turns in order and nothing empty)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from millrace.config.params import Params
from millrace.files import atomic_dir, write_parquet
from millrace.language.corpus import CorpusRules
from millrace.language.dataset import clean_corpus, clean_sft, turn_problems
from millrace.precision import write_figures
from millrace.quality.gates import Check, expectation, run_gate


def checks(frame: pd.DataFrame, params: Params, removed_share: float, task: str) -> list[Check]:
    gate = params.gates.clean
    table = [
        expectation(
            "expect_table_row_count_to_be_between",
            min_value=gate.min_rows,
            set_by=f"gates.clean.min_rows: {gate.min_rows}",
        )
    ]
    removed = pd.DataFrame({"step": ["clean"], "share": [removed_share]})
    share = expectation(
        "expect_column_values_to_be_between",
        column="share",
        max_value=gate.max_removed_share,
        set_by=f"gates.clean.max_removed_share: {gate.max_removed_share}",
    )
    found = [Check("table", frame, table), Check("removed", removed, [share], index_columns=["step"])]
    if task == "sft":
        turns = expectation(
            "expect_column_values_to_be_null", column="problem", set_by="data.source (fix the examples)"
        )
        found.append(Check("turns", turn_problems(frame), [turns], index_columns=["example"]))
    return found


def main(params: Params) -> None:
    raw = pd.read_parquet(Path(params.paths.acquire) / "raw.parquet")
    if params.data.task == "pretraining":
        frame, report, quarantine = clean_corpus(raw, CorpusRules(**params.clean.corpus.model_dump()))
    else:
        frame, report, quarantine = clean_sft(raw, params.clean)
    report["rows_removed_share"] = round(1 - len(frame) / max(len(raw), 1), 4)
    for reason, count in report.get("removed", {}).items():
        print(f"clean: quarantined {count} documents: {reason}")
    if report.get("duplicates", {}).get("rows"):
        print(f"clean: quarantined {report['duplicates']['rows']} exact repeats")
    write_figures(Path(params.paths.reports) / "clean.json", report)
    run_gate(
        "clean",
        checks(frame, params, report["rows_removed_share"], params.data.task),
        gx_dir=params.paths.gx,
        reports_dir=params.paths.reports,
    )
    with atomic_dir(params.paths.clean) as out:
        write_parquet(out / "clean.parquet", frame)
        write_parquet(out / "quarantine.parquet", quarantine.astype(str))
