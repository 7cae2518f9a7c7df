"""A portfolio's wall time against its budget: `model.portfolio: auto` and `model.ensemble: 3` (the defaults) on a
synthetic table, the select stage's judging plus the train stage's fit of the winner and its export as deploy
writes it, beside `model.time_budget_minutes` (goal: never over by more than 10%).

Two sizes, in one run: one judged by 5-fold cross-validation (below 10,000 rows) and one by the validation split.
Each starts with an empty cache, so every candidate is fitted. Synthetic data (scikit-learn's make_classification),
made by the benchmark. `python -m bench.portfolio [--budget MINUTES]`; results in bench/results/portfolio.json.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import pandas as pd

from bench import write_results
from bench.tabular import machine_info, make_split
from millrace.config.params import parse_params

SIZES = (5_000, 50_000)  # rows of train + validation: cross-validated, then judged on the validation split
FEATURES = 20
CLASSES = 3


def settings(budget: float):
    return parse_params(
        {
            "seed": 0,
            "data": {"source": {"kind": "file", "path": "synthetic.parquet"}, "target": "y", "features": None},
            "clean": {"outliers": {"method": "none"}},
            "model": {"portfolio": "auto", "time_budget_minutes": budget},
        }
    )


def measure(rows: int, budget: float, folder: Path) -> dict:
    """Select's judging, train's fit of the winner and its export, timed against the budget."""
    from millrace.models import trained_model
    from millrace.models.catalogue import FAMILIES
    from millrace.models.selection import portfolio_of
    from millrace.training import portfolio
    from millrace.training.dispatch import fit_selected

    split = folder / f"split{rows}"
    split.mkdir()
    make_split(split, rows, FEATURES, CLASSES)
    train, val = (pd.read_parquet(split / f"{name}.parquet") for name in ("train", "val"))
    labels = json.loads((split / "label_map.json").read_text())
    params = settings(budget)
    families = [FAMILIES[name] for name in portfolio_of(params.model, {"kind": "tabular"})]
    started = time.perf_counter()
    cache, ensemble = folder / f"cache{rows}", params.model.ensemble
    results = portfolio.compare(families, train, val, labels, params, budget * 60, cache=cache, ensemble=ensemble)
    judged = time.perf_counter() - started
    best = portfolio.winner(results, "classification")
    family = FAMILIES.get(best.candidate.family)  # None for a blend
    (folder / f"model{rows}").mkdir()
    fit_selected(split, best.final_selection(family), params, folder / f"model{rows}", folder / f"live{rows}")
    trained = time.perf_counter() - started
    portfolio.export_seconds(trained_model.load(folder / f"model{rows}"), val, folder / f"export{rows}")
    total = time.perf_counter() - started
    return {
        "rows": rows,
        "judged_by": "5-fold cross-validation" if rows < portfolio.CV_ROWS else "the validation split",
        "budget_seconds": budget * 60,
        "select_seconds": round(judged, 1),
        "select_and_train_seconds": round(trained, 1),
        "with_export_seconds": round(total, 1),
        "ratio_to_budget": round(total / (budget * 60), 3),
        "candidates_judged": sum(r.skipped is None for r in results),
        "candidates": len(results),
        "winner": best.candidate.name,
        "winner_score": best.score,
    }


def main(argv: list[str] | None = None) -> dict:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--budget", type=float, default=2.0, help="model.time_budget_minutes")
    parser.add_argument("--rows", type=int, nargs="*", default=list(SIZES))
    args = parser.parse_args(argv)
    found = []
    with tempfile.TemporaryDirectory(prefix="millrace-bench-portfolio-") as folder:
        for rows in args.rows:
            found.append(measure(rows, args.budget, Path(folder)))
            print(json.dumps(found[-1]))
    print("| rows | judged by | budget s | select + train s | + export s | ratio | judged | winner |")
    print("|---:|---|---:|---:|---:|---:|---:|---|")
    for r in found:
        print(
            f"| {r['rows']} | {r['judged_by']} | {r['budget_seconds']:.0f} | {r['select_and_train_seconds']:.1f} "
            f"| {r['with_export_seconds']:.1f} | {r['ratio_to_budget']:.2f} | {r['candidates_judged']} of "
            f"{r['candidates']} | {r['winner']} |"
        )
    what = "model.portfolio: auto, ensemble 3: select + train + the winner's export, wall time vs the budget"
    record = {"what": what, "machine": machine_info()}
    record["runs"] = found
    print(f"written {write_results('portfolio', record)}")
    return record


if __name__ == "__main__":
    main()
