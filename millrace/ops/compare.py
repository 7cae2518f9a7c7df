"""compare: the experiments DVC knows, best first, and their curves against the baseline's.

Reads `dvc exp show --json`: for each experiment its test metric (`--metric`, default the task's
primary; errors sort lowest first), whether it met the delivery standard, and the params that differ
from its baseline commit. Prints them as a table, then renders `dvc plots diff` between the
baseline and the best experiment into `dvc_plots/compare/`.
Run: `millrace compare [--metric NAME] [--top N]` or `make compare`.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

from millrace.config.params import LOWER_IS_BETTER
from millrace.errors import MillraceError
from millrace.ops.dvc import dvc_executable

EVALUATION = "reports/evaluate/metrics.json"


def _flat(tree: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in tree.items():
        if isinstance(value, dict):
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


def _params(data: dict[str, Any]) -> dict[str, Any]:
    return _flat((data.get("params") or {}).get("params.yaml", {}).get("data", {}))


def _evaluation(data: dict[str, Any]) -> dict[str, Any]:
    return ((data.get("metrics") or {}).get(EVALUATION) or {}).get("data", {})


def table(listing: list[dict[str, Any]], metric: str | None) -> tuple[list[dict[str, Any]], str, str | None]:
    """One row per experiment (best first), the metric used, and the baseline commit's revision."""
    rows, baseline_rev = [], None
    for commit in listing:
        if commit["rev"] == "workspace":
            continue
        baseline = _params(commit["data"])
        baseline_rev = baseline_rev or commit["rev"]
        for experiment in commit.get("experiments") or []:
            for run in experiment.get("revs") or []:
                evaluation = _evaluation(run.get("data") or {})
                test = evaluation.get("test", {})
                if not test:
                    continue
                metric = metric or ("r2" if "r2" in test else "accuracy")
                changed = {k: v for k, v in _params(run["data"]).items() if baseline.get(k) != v}
                rows.append(
                    {
                        "experiment": run.get("name") or run["rev"][:7],
                        metric: test.get(metric),
                        "standard": (evaluation.get("delivery") or {}).get("passed"),
                        "changed": ", ".join(f"{k}={v}" for k, v in sorted(changed.items())),
                    }
                )
    metric = metric or "accuracy"
    unknown = [r["experiment"] for r in rows if r[metric] is None]
    if unknown:
        raise MillraceError(f"--metric {metric!r}: not measured by {unknown}; use a key of test metrics")
    rows.sort(key=lambda r: r[metric], reverse=metric not in LOWER_IS_BETTER)
    return rows, metric, baseline_rev


def experiments(repo: Path, metric: str | None = None) -> tuple[list[dict[str, Any]], str, str | None]:
    """`table` over what `dvc exp show` lists in `repo`."""
    shown = subprocess.run([dvc_executable(), "exp", "show", "--json"], cwd=repo, capture_output=True, text=True)
    if shown.returncode != 0:
        raise MillraceError(f"dvc exp show failed: {shown.stderr.strip()[-300:]}")
    return table(json.loads(shown.stdout), metric)


def cell(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.4f}"
    return {True: "met", False: "not met", None: ""}.get(value, str(value)) if not isinstance(value, str) else value


def main(argv: list[str] | None = None) -> None:
    from rich.console import Console
    from rich.table import Table

    parser = argparse.ArgumentParser(prog="millrace compare", description=__doc__)
    parser.add_argument("--metric", help="a test metric (default: accuracy, or r2 for regression)")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)
    rows, metric, baseline = experiments(Path.cwd(), args.metric)
    if not rows:
        raise MillraceError("no experiments yet: `dvc exp run -S train.lr=0.003` makes one")
    rich_table = Table(title=f"experiments by test {metric} (best first)")
    for column in rows[0]:
        rich_table.add_column(column, justify="right" if column == metric else "left")
    for row in rows[: args.top]:
        rich_table.add_row(*(cell(v) for v in row.values()))
    console = Console()
    console.print(rich_table)
    out = Path("dvc_plots/compare")
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(exist_ok=True)  # dvc writes the folder, not its parents
    command = [dvc_executable(), "plots", "diff", baseline, rows[0]["experiment"], "-o", str(out)]
    plots = subprocess.run(command, capture_output=True, text=True)
    if plots.returncode != 0:
        raise MillraceError(f"dvc plots diff failed: {plots.stderr.strip()[-300:]}")
    console.print(f"curves of {rows[0]['experiment']} against the baseline {baseline[:7]}: {out / 'index.html'}")
