"""clean: apply the declared cleaning steps in order, report what each changed, quarantine what it removed.

Reads `<paths.acquire>/raw.parquet` and `clean.*` params. The steps (`clean.steps`, in that order):
`coerce` (declared column types; a value that does not convert is reported and its row
quarantined), `text` (mojibake repair with ftfy, Unicode normalisation, control characters,
whitespace, case), `duplicates` (exact rows, or a declared key), `filters` (ranges and allowed
categories), `missing` (rows missing a value where `clean.missing` says drop; other missing values
are counted and left for the model, which imputes them with values fitted on the training split; a
missing target is left for the label stage) and `outliers` (rows dropped with `action: drop`; with
`clip` the model clips them, counted here). Clean decides about whole rows; every value-level
transform the model needs is part of the model (millrace/inputs/tabular.py).
No row is silently dropped: every removed row goes to `<paths.clean>/quarantine.parquet` with the
step and the reason, so `rows_in == rows_out + rows_quarantined`. Writes `<paths.clean>/clean.parquet`
and `reports/clean.json` (per step, also a DVC metric), but only after the `clean` gate (enough
rows, no step removing more than `gates.clean.max_removed_share` of the rows, the
committed suite's ranges and categories). Run: `python -m stages.clean`.

A causal language model (`data.task` sft or pretraining) takes millrace/language/steps/clean.py instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from millrace.config.params import LANGUAGE_TASKS, Clean, CleanGate, load_params
from millrace.errors import MillraceError
from millrace.files import atomic_dir, write_parquet
from millrace.precision import write_figures
from millrace.quality.cleaning import STEPS, Cleaning
from millrace.quality.gates import Check, expectation, load_suite, run_gate, suite_for
from millrace.sources.names import dataset_name


def run(raw: pd.DataFrame, target: str, params: Clean) -> tuple[pd.DataFrame, dict[str, Any], pd.DataFrame]:
    """The cleaned frame, a report of every change in the order made, and the quarantined rows."""
    if target not in raw.columns:
        raise MillraceError(f"data.target {target!r} is not a column; columns: {list(raw.columns)}")
    state = Cleaning(raw, target)
    for step in params.steps:
        before = len(state.frame)
        state.report[step] = STEPS[step](state, params)
        if len(state.frame) != before:
            print(f"clean: {step} quarantined {before - len(state.frame)} rows")
    quarantine = state.quarantine()
    state.report |= {"rows_out": len(state.frame), "rows_quarantined": len(quarantine)}
    assert state.report["rows_in"] == state.report["rows_out"] + len(quarantine)  # no row unaccounted for
    return state.frame.reset_index(drop=True), state.report, quarantine


def removed_by_step(quarantine: pd.DataFrame, rows_in: int) -> pd.DataFrame:
    counts = quarantine["_step"].value_counts()
    removed = [int(counts.get(step, 0)) for step in STEPS]
    return pd.DataFrame({"step": list(STEPS), "rows": removed, "share": [r / max(rows_in, 1) for r in removed]})


def clean_checks(
    frame: pd.DataFrame, target: str, gate: CleanGate, suite: list[dict], removed: pd.DataFrame | None = None
) -> list[Check]:
    # Missing values pass: the model imputes them with values fitted on the training split.
    generic = [
        expectation(
            "expect_table_row_count_to_be_between",
            min_value=gate.min_rows,
            set_by=f"gates.clean.min_rows: {gate.min_rows}",
        )
    ]
    checks = [Check("table", frame, generic + suite)]
    if removed is not None:  # a step that removes a large share of the rows points at a problem upstream
        share = expectation(
            "expect_column_values_to_be_between",
            column="share",
            max_value=gate.max_removed_share,
            set_by=f"gates.clean.max_removed_share: {gate.max_removed_share}",
        )
        checks.append(Check("removed_by_step", removed, [share], index_columns=["step"]))
    return checks


def main() -> None:
    params = load_params()
    if params.data.task in LANGUAGE_TASKS:  # a causal language model: millrace/language/steps
        from millrace.language.steps import clean as language

        language.main(params)
        return
    raw = pd.read_parquet(Path(params.paths.acquire) / "raw.parquet")
    frame, report, quarantine = run(raw, params.data.target, params.clean)
    raw_rows = len(raw)
    del raw  # the gate imports GE with the data in memory: the raw table need not be (~65 MB less at 1e6 rows)
    report["rows_removed_share"] = float(np.round(1 - len(frame) / max(raw_rows, 1), 4))
    gate = params.gates.clean
    name, said = suite_for(params.paths.gx, gate.suite, dataset_name(params.data.source.model_dump()), "clean")
    print(f"clean: {said}")
    suite = load_suite(params.paths.gx, name, "gates.clean.suite") if name else []
    write_figures(Path(params.paths.reports) / "clean.json", report)
    run_gate(
        "clean",
        clean_checks(frame, params.data.target, gate, suite, removed_by_step(quarantine, raw_rows)),
        gx_dir=params.paths.gx,
        reports_dir=params.paths.reports,
    )
    with atomic_dir(params.paths.clean) as out:
        write_parquet(out / "clean.parquet", frame)
        write_parquet(out / "quarantine.parquet", quarantine)


if __name__ == "__main__":
    from millrace.entry import stage_main

    stage_main(main, __doc__)
