"""compare: the experiments DVC knows, best first, and their curves against the baseline's.

Reads `dvc exp show --json`: for each experiment its headline validation metric (`--metric`, default the
task's primary; errors sort lowest first), which ranks it; its test metric beside it, for the record only (a
test split that chooses stops estimating new data); whether it met the delivery standard; and the params that
differ from its baseline commit. Ties are broken by the delivery standard (met first), then by the other
validation metrics, then by name. An experiment recorded before validation metrics existed sorts last. Prints
them as a table under the baseline commit's own score, then renders `dvc plots diff` between the baseline and
the best experiment into `dvc_plots/compare/`.
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

HEADLINE = "reports/metrics.json"  # evaluate's headline figures, the only metrics file besides training's


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


def _headline(data: dict[str, Any]) -> dict[str, Any]:
    return ((data.get("metrics") or {}).get(HEADLINE) or {}).get("data", {})


def _better_first(value: Any, name: str) -> float:
    """A sort key: smaller is better (errors as they are, scores negated); missing last."""
    if not isinstance(value, int | float):
        return float("inf")
    return value if name in LOWER_IS_BETTER else -value


def table(listing: list[dict[str, Any]], metric: str | None) -> tuple[list[dict[str, Any]], str, dict[str, Any] | None]:
    """One row per experiment (best first), the metric used, and the baseline commit (its revision and score)."""
    rows, baseline_row = [], None
    for commit in listing:
        if commit["rev"] == "workspace":
            continue
        baseline = _params(commit["data"])
        if baseline_row is None:
            baseline_row = {"rev": commit["rev"], "val": _headline(commit["data"]).get("val", {})}
        for experiment in commit.get("experiments") or []:
            for run in experiment.get("revs") or []:
                headline = _headline(run.get("data") or {})
                val, test = headline.get("val", {}), headline.get("test", {})
                if not (val or test):
                    continue
                metric = metric or ("r2" if "r2" in (val or test) else "accuracy")
                changed = {k: v for k, v in _params(run["data"]).items() if baseline.get(k) != v}
                rows.append(
                    {
                        "experiment": run.get("name") or run["rev"][:7],
                        f"val {metric}": val.get(metric),
                        f"test {metric}": test.get(metric),
                        "standard": headline.get("standard_met"),
                        "changed": ", ".join(f"{k}={v}" for k, v in sorted(changed.items())),
                        "_val": val,
                    }
                )
    metric = metric or "accuracy"
    known = sorted({name for r in rows for name in r["_val"]})
    if rows and metric not in known:
        raise MillraceError(f"--metric {metric!r}: not a headline validation metric; they are {known}")

    def rank(row: dict[str, Any]) -> tuple:
        others = [_better_first(value, name) for name, value in sorted(row["_val"].items()) if name != metric]
        return (_better_first(row[f"val {metric}"], metric), row["standard"] is not True, *others, row["experiment"])

    rows.sort(key=rank)
    for row in rows:
        del row["_val"]
    if baseline_row is not None:
        baseline_row = {"rev": baseline_row["rev"], metric: baseline_row["val"].get(metric)}
    return rows, metric, baseline_row


def experiments(repo: Path, metric: str | None = None) -> tuple[list[dict[str, Any]], str, dict[str, Any] | None]:
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
    parser.add_argument("--metric", help="the validation metric to rank by (default: accuracy, or r2 for regression)")
    parser.add_argument("--top", type=int, default=10)
    args = parser.parse_args(argv)
    rows, metric, baseline = experiments(Path.cwd(), args.metric)
    if not rows:
        raise MillraceError("no experiments yet: `dvc exp run -S train.lr=0.003` makes one")
    score = baseline.get(metric) if baseline else None
    shown = "not measured" if score is None else cell(score)
    caption = f"baseline {baseline['rev'][:7]}: val {metric} {shown}" if baseline else None
    title = f"experiments by validation {metric} (best first; test shown, never ranked by)"
    rich_table = Table(title=title, caption=caption)
    for column in rows[0]:
        rich_table.add_column(column, justify="right" if column.endswith(metric) else "left")
    for row in rows[: args.top]:
        rich_table.add_row(*(cell(v) for v in row.values()))
    console = Console()
    console.print(rich_table)
    out = Path("dvc_plots/compare")
    shutil.rmtree(out, ignore_errors=True)
    out.parent.mkdir(exist_ok=True)  # dvc writes the folder, not its parents
    command = [dvc_executable(), "plots", "diff", baseline["rev"], rows[0]["experiment"], "-o", str(out)]
    plots = subprocess.run(command, capture_output=True, text=True)
    if plots.returncode != 0:
        raise MillraceError(f"dvc plots diff failed: {plots.stderr.strip()[-300:]}")
    console.print(f"curves of {rows[0]['experiment']} against the baseline {baseline['rev'][:7]}: {out / 'index.html'}")
