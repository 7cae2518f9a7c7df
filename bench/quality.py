"""Model quality on every built-in table and on a breast-cancer table as a user brings it: the deployed model of a
`model.portfolio: auto`, `model.ensemble: 3` run beside scikit-learn's baselines, on the same test split, through
the real pipeline.

For each table the committed project is cloned into a temporary folder, the table's settings are merged into
params.yaml as a preset would be, and `dvc repro` runs every stage. The figures come from the run's own reports:
the portfolio's winner, its cross-validated score and the best scikit-learn baseline's on the same folds
(models/selection.json), the deployed model's test score with its bootstrap interval and the baselines' test
scores (reports/evaluate/metrics.json). The check the issue set: the winner's held-out (cross-validated) score is
at least the best baseline's minus one standard error (the folds' standard deviation / √5). The test scores are
reported beside each other, not judged: a test split of 25 to 115 rows moves by a row. `python -m bench.quality
[--only NAME]`; results in bench/results/quality.json, and the README's table is `python -m bench.quality --table`.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from bench import results_dir, write_results

ROOT = Path(__file__).resolve().parents[1]
PORTFOLIO = {"model": {"portfolio": "auto", "ensemble": 3}}
# What differs from params.yaml for each table (the examples' presets where there is one).
TABLES: dict[str, dict[str, Any]] = {
    "penguins": {},
    "iris": {"preset": "examples/iris.yaml"},
    "wine": {
        "data": {"source": {"kind": "builtin", "name": "wine"}, "target": "target", "features": None},
        "gates": {"raw": {"suite": None}, "clean": {"suite": None, "min_rows": 100}},
        "evaluate": {"slices": []},
    },
    "breast_cancer": {
        "data": {"source": {"kind": "builtin", "name": "breast_cancer"}, "target": "target", "features": None},
        "gates": {"raw": {"suite": None}, "clean": {"suite": None, "min_rows": 300}},
        "evaluate": {"slices": []},
    },
    "diabetes": {"preset": "examples/diabetes.yaml"},
    "breast_cancer_as_brought": {
        "data": {
            "source": {"kind": "file", "path": "data/inputs/biopsies.csv"},
            "target": "diagnosis",
            "features": None,
        },
        "gates": {"clean": {"min_rows": 300}},
        "evaluate": {"slices": []},
    },
}


def breast_cancer_as_brought() -> pd.DataFrame:
    """scikit-learn's breast-cancer table the way a clinic's export has it: a patient id, a free-text note, some
    measurements missing, the diagnosis as words. The notes are made here and say nothing about the diagnosis."""
    from sklearn.datasets import load_breast_cancer

    bunch = load_breast_cancer(as_frame=True)
    frame = bunch.frame.drop(columns="target")
    rng = np.random.default_rng(11)
    for column in ("mean radius", "mean texture", "worst area", "mean smoothness"):
        frame.loc[rng.random(len(frame)) < 0.05, column] = np.nan
    reasons = ["referred by GP", "follow-up visit", "second opinion", "routine screening", "self-referral"]
    moods = ["patient anxious", "patient calm", "came with family", "asked about timing", "no remarks"]
    frame.insert(0, "patient_id", [f"P{100000 + i}" for i in range(len(frame))])
    notes = [
        f"{rng.choice(reasons)}, seen {rng.integers(1, 30)} days after referral; {rng.choice(moods)}"
        for _ in range(len(frame))
    ]
    frame.insert(1, "notes", notes)
    frame["diagnosis"] = np.where(bunch.frame["target"] == 1, "benign", "malignant")
    return frame


def _env() -> dict[str, str]:
    from millrace.environment import QUIET_ENV

    return {**os.environ, **QUIET_ENV, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}


def run_table(name: str, folder: Path) -> dict[str, Any]:
    """Clone, apply the table's settings and the portfolio, `dvc repro`; the figures its reports hold."""
    from millrace.config.presets import merge, round_trip

    repo = folder / name
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    settings = dict(TABLES[name])
    loader = round_trip()  # ruamel's round-trip loader: safe, and it keeps the comments
    params = loader.load((repo / "params.yaml").read_text())
    if "preset" in settings:
        merge(params, loader.load((repo / settings.pop("preset")).read_text()))
    merge(params, settings)
    merge(params, PORTFOLIO)
    out = io.StringIO()
    loader.dump(params, out)
    (repo / "params.yaml").write_text(out.getvalue())
    if name == "breast_cancer_as_brought":
        breast_cancer_as_brought().to_csv(repo / "data/inputs/biopsies.csv", index=False)
    started = time.perf_counter()
    # --force: with params equal to the committed defaults (penguins), DVC would skip the stages whose outputs
    # git holds (select, evaluate), and the time would not be a whole run's.
    ran = subprocess.run(["dvc", "repro", "--force"], cwd=repo, env=_env(), capture_output=True, text=True)
    if ran.returncode != 0:
        raise SystemExit(f"{name}: dvc repro failed\n{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}")
    seconds = time.perf_counter() - started
    selection = json.loads((repo / "models/selection.json").read_text())
    report = json.loads((repo / "reports/evaluate/metrics.json").read_text())
    metric = report["baselines"]["best"]["metric"]
    interval = report["confidence_intervals"][metric]
    held = selection["held_out"]
    return {
        "table": name,
        "task": selection["data"]["task"],
        "rows": selection["data"]["rows"],
        "metric": metric,
        "winner": selection["family"],
        "configuration": selection.get("options") or selection.get("members") or {"size": selection.get("size")},
        "held_out": held,
        "meets": bool(held["score"] >= held["baseline"]["score"] - held["error"]),
        "model_test": round(report["test"][metric], 4),
        "model_test_interval": [interval["low"], interval["high"]],
        "baselines_test": {k: round(v[metric], 4) for k, v in report["baselines"]["models"].items()},
        "pipeline_seconds": round(seconds, 1),
    }


def table(results: list[dict[str, Any]]) -> str:
    """The README's table: held-out (cross-validated) scores of the winner and the best baseline, then the test
    split's scores of the deployed model and of each baseline."""
    lines = [
        "| table | task, training rows | portfolio winner | held out: winner ± SE | held out: best baseline "
        "| within 1 SE | test: model | test: logistic / ridge | test: hist. gradient boosting |",
        "|---|---|---|---:|---:|---|---:|---:|---:|",
    ]
    for r in results:
        held, baseline = r["held_out"], r["held_out"]["baseline"]
        linear = next(v for k, v in r["baselines_test"].items() if k in ("logistic_regression", "ridge"))
        trees = r["baselines_test"]["hist_gradient_boosting"]
        lines.append(
            f"| {r['table']} | {r['task']}, {r['rows']} | {r['winner']} | {r['metric']} {held['score']:.3f} ± "
            f"{held['error']:.3f} | {baseline['score']:.3f} ({baseline['name']}) | {'yes' if r['meets'] else 'no'} "
            f"| {r['model_test']:.3f} | {linear:.3f} | {trees:.3f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(TABLES), help="run one table, keeping the others' figures")
    parser.add_argument("--table", action="store_true", help="print the README's table from the results file")
    args = parser.parse_args()
    path = results_dir() / "quality.json"
    if args.table:
        print(table(json.loads(path.read_text())["tables"]))
        return
    previous = {r["table"]: r for r in json.loads(path.read_text())["tables"]} if path.exists() and args.only else {}
    with tempfile.TemporaryDirectory(prefix="millrace-quality-") as folder:
        for name in [args.only] if args.only else list(TABLES):
            previous[name] = run_table(name, Path(folder))
            print(json.dumps(previous[name]))
    from bench.tabular import machine_info

    record = {
        "what": "the deployed model of a model.portfolio: auto run vs scikit-learn baselines, test split",
        "machine": machine_info(),
        "tables": [previous[name] for name in TABLES if name in previous],
    }
    print(table(record["tables"]))
    print(f"written {write_results('quality', record)}")


if __name__ == "__main__":
    main()
