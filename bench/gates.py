"""Gates: the project's Great Expectations gate against hand-written vectorised pandas checks of the
same expectations, on the penguins contract, at 1e4, 1e5 and 1e6 rows.

The table is penguins resampled (with replacement) to size; the expectations are the committed
`penguins_raw` suite. Three sides, alternating, repeated: the whole gate as a stage runs it
(`run_gate`: file context, validation, results store, Data Docs, reports), GE's validation alone as
its quick start calls it (`batch.validate(suite)`, "SUMMARY" results, nothing stored or rendered),
and the floor — the same checks as pandas expressions. Reports medians, min–max, rows/s and the ratios.
`python -m bench.gates [--repeats N] [--sizes 10000,100000,1000000]`; writes bench/results/gates.json.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from rich.console import Console
from rich.table import Table

from bench import write_results

ROOT = Path(__file__).resolve().parents[1]


def pandas_checks(frame: pd.DataFrame, suite: list[dict]) -> bool:
    """The floor: every expectation of the suite as one vectorised pandas expression."""
    passed = True
    for item in suite:
        kind, kw = item["type"], item["kwargs"]
        column = frame[kw["column"]] if "column" in kw else None
        if kind == "expect_table_columns_to_match_set":
            ok = set(kw["column_set"]) <= set(frame.columns)
        elif kind == "expect_column_to_exist":
            ok = kw["column"] in frame.columns
        elif kind == "expect_column_values_to_not_be_null":
            ok = column.notna().mean() >= kw.get("mostly", 1.0)
        elif kind == "expect_column_values_to_be_in_set":
            present = column.dropna()
            ok = present.isin(kw["value_set"]).all()
        elif kind == "expect_column_values_to_be_between":
            present = column.dropna()
            ok = present.between(kw.get("min_value", -float("inf")), kw.get("max_value", float("inf"))).all()
        elif kind == "expect_column_values_to_be_of_type":
            ok = str(column.dtype) == kw["type_"] or (kw["type_"] == "str" and pd.api.types.is_string_dtype(column))
        elif kind == "expect_column_values_to_be_in_type_list":
            ok = str(column.dtype) in kw["type_list"]
        elif kind == "expect_table_row_count_to_be_between":
            ok = len(frame) >= kw.get("min_value", 0)
        else:
            raise NotImplementedError(kind)
        passed &= bool(ok)
    return passed


def timed(call) -> float:
    started = time.perf_counter()
    call()
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    args = parser.parse_args()
    os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
    import great_expectations as gx

    from millrace.quality.gates import Check, _batch_definition, _context, load_suite, run_gate
    from millrace.sources.builtin import load_builtin

    penguins = load_builtin("penguins")
    suite = load_suite(ROOT / "gx", "penguins_raw")
    results: dict[int, dict[str, list[float]]] = {}
    with tempfile.TemporaryDirectory() as scratch:
        gx_dir = Path(shutil.copytree(ROOT / "gx", Path(scratch) / "gx", ignore=shutil.ignore_patterns("uncommitted")))
        context = _context(gx_dir)
        for size in [int(s) for s in args.sizes.split(",")]:
            frame = penguins.sample(size, replace=True, random_state=0).reset_index(drop=True)
            expectations = gx.ExpectationSuite(name="bench", expectations=suite)
            batch = _batch_definition(context, "bench.table").get_batch(batch_parameters={"dataframe": frame})
            assert pandas_checks(frame, suite) and batch.validate(expectations).success
            sides = {
                "gate (run_gate)": lambda f=frame: run_gate(
                    "raw", [Check("table", f, suite)], gx_dir=gx_dir, reports_dir=Path(scratch) / "reports"
                ),
                "GE batch.validate": lambda b=batch, e=expectations: b.validate(
                    e, result_format={"result_format": "SUMMARY"}
                ),
                "pandas": lambda f=frame: pandas_checks(f, suite),
            }
            for _ in range(args.repeats):
                for name, call in sides.items():  # alternate the sides within each repeat
                    results.setdefault(size, {}).setdefault(name, []).append(timed(call))

    table = Table(title=f"gates on the penguins contract ({len(suite)} expectations), {os.cpu_count()} cores")
    for column in ("rows", "side", "median s", "min–max s", "rows/s", "× pandas"):
        table.add_column(column, justify="right", no_wrap=True)
    record: dict[str, dict] = {}
    for size, sides in results.items():
        floor = statistics.median(sides["pandas"])
        for name, times in sides.items():
            med = statistics.median(times)
            record.setdefault(str(size), {})[name] = {
                "median_s": med,
                "min_s": min(times),
                "max_s": max(times),
                "rows_per_second": size / med,
                "ratio_to_pandas": med / floor,
            }
            table.add_row(
                f"{size:,}",
                name,
                f"{med:.3f}",
                f"{min(times):.3f}–{max(times):.3f}",
                f"{size / med:,.0f}",
                f"{med / floor:.1f}",
            )
    Console().print(table)
    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0], "great_expectations": gx.__version__}
    out = {"args": vars(args), "machine": machine, "measured": time.strftime("%Y-%m-%d"), "sizes": record}
    write_results("gates", out)


if __name__ == "__main__":
    main()
