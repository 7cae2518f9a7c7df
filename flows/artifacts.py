"""What a finished run publishes to Prefect: a markdown summary and a table of the experiments.

The summary holds the test metrics, the delivery decision with its reasons, each gate's result
and where the review page and the deployed release are. The table is `millrace compare`'s
ranking, so the Prefect UI shows how this run sits among the experiments DVC knows.
Everything here reads the reports the stages wrote; nothing is computed again.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from millrace.config.params import Params
from millrace.errors import MillraceError
from millrace.files import read_json
from millrace.ops import compare
from millrace.release import served

GATES = ("raw", "clean", "labels")


def read_if_there(path: Path) -> dict[str, Any] | None:
    """A report, or None when the run stopped before the stage that writes it."""
    return read_json(path) if path.exists() else None


def evaluation(root: Path, params: Params) -> dict[str, Any] | None:
    """The evaluate stage's metrics and delivery decision, if it ran."""
    return read_if_there(root / params.paths.reports / "evaluate" / "metrics.json")


def gate_rows(reports: Path) -> list[str]:
    rows = []
    for gate in GATES:
        summary = read_if_there(reports / "gates" / f"{gate}.json")
        if summary is None:
            continue
        verdict = "passed" if summary["success"] else "**failed**"
        counts = f"{summary['evaluated']} | {summary['failed']} | {summary.get('warned', 0)}"
        rows.append(f"| {gate} | {verdict} | {counts} |")
    return rows


def summary_markdown(root: Path, params: Params, experiment: str | None) -> str:
    reports = root / params.paths.reports
    evaluated = evaluation(root, params) or {"test": {}, "delivery": {"passed": None}}
    metrics = [f"| test/{k} | {v:.4f} |" for k, v in evaluated["test"].items() if isinstance(v, float)]
    decision = evaluated["delivery"]
    verdict = {True: "meets", False: "does **not** meet", None: "was not judged against"}[decision["passed"]]
    lines = [
        "# millrace run" + (f" — experiment `{experiment}`" if experiment else ""),
        "",
        "| metric | value |",
        "|---|---|",
        *metrics,
        "",
        f"Delivery standard: the model {verdict} it ({'; '.join(decision.get('reasons') or [])}).",
        "",
        "| gate | result | expectations | failed | warned |",
        "|---|---|---|---|---|",
        *gate_rows(reports),
        "",
        f"Review page: `{(reports / 'review.html').resolve()}`",
    ]
    with contextlib.suppress(MillraceError):  # nothing deployed yet: nothing served
        used = served.resolve(params, root)
        lines.append(f"Served by `millrace serve`: {used.describe()}")
    return "\n".join(lines)


def experiment_rows(root: Path) -> list[dict[str, Any]]:
    """`millrace compare`'s rows, best first, as plain cells for a Prefect table artifact."""
    rows, _, _ = compare.experiments(root)
    return [{key: compare.cell(value) for key, value in row.items()} for row in rows]
