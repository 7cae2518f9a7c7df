"""summary: print the last run's gate results, test metrics and where every artefact is.

Reads only what the stages wrote (reports/gates, reports/evaluate, the deploy manifest, the release
registry: it names the model version `millrace serve` and `millrace predict` use, and why);
`make run` calls it after `dvc repro`. Run: `python -m millrace.ops.summary` or `millrace summary`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from millrace.config.params import LOWER_IS_BETTER, METRICS, Params, load_params
from millrace.errors import MillraceError
from millrace.files import read_json
from millrace.release import served

GATES = ("raw", "clean", "labels")


def _read(path: Path) -> Any:
    if not path.exists():
        raise MillraceError(f"{path} is missing; run `dvc repro` first")
    return read_json(path)


def tables(params: Params) -> list[Table]:
    reports = Path(params.paths.reports)
    gates = Table(title="Gates")
    for column in ("gate", "result", "expectations", "report"):
        gates.add_column(column)
    for name in GATES:
        gate = _read(reports / "gates" / f"{name}.json")
        result = "[green]passed[/]" if gate["success"] else f"[red]failed {gate['failed']}[/]"
        if gate.get("warned"):
            result += f" [yellow]({gate['warned']} warnings)[/]"
        gates.add_row(name, result, str(gate["evaluated"]), str(reports / "gates" / f"{name}.json"))

    evaluation = _read(reports / "evaluate" / "metrics.json")
    metrics = Table(title="Test metrics")
    metrics.add_column("metric")
    metrics.add_column("value", justify="right")
    metrics.add_column("95% interval", justify="right")
    metrics.add_column("threshold", justify="right")
    thresholds = {c["metric"]: c for c in evaluation["delivery"]["checks"]}
    intervals = evaluation.get("confidence_intervals", {})
    for name in (m for m in METRICS if m in evaluation["test"]):
        check = thresholds.get(f"test/{name}")
        sign = "≤" if name in LOWER_IS_BETTER else "≥"
        limit = f"{'✓' if check['passed'] else '✗'} {sign} {check['threshold']}" if check else ""
        span = intervals.get(name)
        interval = f"{span['low']:.3f}–{span['high']:.3f}" if span else ""
        metrics.add_row(f"test/{name}", f"{evaluation['test'][name]:.4f}", interval, limit)
    worst = evaluation.get("slices", {}).get("worst")
    if worst:
        metrics.add_row("worst slice", f"{worst['column']} = {worst['value']}", "", "")
    verdict = "[green]meets[/]" if evaluation["delivery"]["passed"] else "[red]does not meet[/]"
    model = evaluation.get("model", {})
    metrics.caption = f"{model.get('family', '')} ({model.get('strategy', '')}) — delivery standard: {verdict}"

    shown = [gates, metrics]
    if "base" in evaluation:
        shown.append(language_table(evaluation))
    if "baselines" in evaluation:
        shown.append(baseline_table(evaluation))
    selection = Path(params.paths.selection)
    if selection.exists() and "leaderboard" in (chosen := read_json(selection)):
        shown.append(leaderboard_table(chosen, reports / "selection.md"))

    docs = _read(reports / "gates" / "labels.json").get("data_docs", "")
    paths = Table(title="Artefacts")
    paths.add_column("what")
    paths.add_column("where")
    rows = [
        ("curves, confusion, ROC, calibration, residuals", "dvc plots show  →  dvc_plots/index.html"),
        ("test metrics", str(reports / "evaluate" / "metrics.json")),
        (
            "cleaning report; rows removed, with reasons",
            f"{reports / 'clean.json'}; {params.paths.clean}/quarantine.parquet",
        ),
        (
            "label sources, rules, agreement; review",
            f"{reports / 'labels.json'}; {params.paths.label}/label_review.csv",
        ),
        ("gate reports (Data Docs)", docs),
        ("model selection, and why", str(reports / "selection.md")),
        ("trained model", params.paths.train),
    ]
    manifest = Path(params.paths.deploy) / "manifest.json"
    deployed = read_json(manifest) if manifest.exists() else None
    if deployed and deployed.get("family") == "causal_lm":
        rows.append(("deployed language model", f"{params.paths.deploy}/bundle (version {deployed['version']})"))
    elif deployed:
        rows.append(("deployed bundle", f"{params.paths.deploy} (version {deployed['version']})"))
        used = served.resolve(params)
        rows.append(("served by millrace serve, predict", used.describe()))
        rows.append(("serve it", "millrace serve  (or python -m millrace.serving.app)"))
    for row in rows:
        paths.add_row(*row)
    return [*shown, paths]


def baseline_table(evaluation: dict[str, Any]) -> Table:
    """The model beside the scikit-learn baselines, on the metrics they share."""
    found = evaluation["baselines"]["models"]
    names = list(next(iter(found.values())))
    table = Table(title="Model against baselines (test split)")
    table.add_column("model")
    for name in names:
        table.add_column(name, justify="right")
    model = evaluation.get("model", {})
    table.add_row(f"[bold]{model.get('family', 'model')}[/]", *(f"{evaluation['test'][n]:.4f}" for n in names))
    for baseline, values in found.items():
        table.add_row(baseline, *(f"{values[n]:.4f}" for n in names))
    return table


def language_table(evaluation: dict[str, Any]) -> Table:
    """A language model before and after: the base's figures beside the tuned model's, the control text's too."""
    table = Table(title="Language model: base and tuned (test split)")
    for column in ("metric", "base", "tuned"):
        table.add_column(column, justify="left" if column == "metric" else "right")
    before, after = evaluation["base"], evaluation["tuned"]
    for name in ("perplexity", "control_perplexity", "rouge_l", "bleu", "exact_match"):
        if name in after:
            table.add_row(name.replace("_", " "), f"{before[name]:.4f}", f"{after[name]:.4f}")
    table.caption = "control: a text unrelated to the data; a fall there is not learning the domain"
    return table


LEADERBOARD_ROWS = 8  # the rest are in reports/selection.md


def leaderboard_table(selection: dict[str, Any], page: Path) -> Table:
    """A portfolio's best candidates on the held-out rows, the chosen one marked, the baselines among them."""
    metric = selection["held_out"]["metric"]
    table = Table(title=f"Portfolio: held-out {metric}")
    for column, justify in (("candidate", "left"), (metric, "right"), ("± SE", "right"), ("verdict", "left")):
        table.add_column(column, justify=justify)
    board = selection["leaderboard"]
    for entry in board[:LEADERBOARD_ROWS]:
        chosen = entry["verdict"] == "**chosen**"
        name = f"[bold]{entry['candidate']}[/]" if chosen else entry["candidate"]
        score = f"{entry['score']:.4f}" if entry["score"] is not None else ""
        error = f"{entry['error']:.4f}" if entry["error"] is not None else ""
        table.add_row(name, score, error, "[green]chosen[/]" if chosen else entry["verdict"])
    more = len(board) - LEADERBOARD_ROWS
    table.caption = f"{more} more in {page}" if more > 0 else str(page)
    return table


def main() -> None:
    console = Console()
    for table in tables(load_params()):
        console.print(table)


if __name__ == "__main__":
    from millrace.entry import stage_main

    stage_main(main, __doc__)
