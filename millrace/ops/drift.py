"""drift: compare what the server has been asked with what the served model was trained on.

Reads the request log (`<paths.monitoring>/requests.sqlite`, the last `monitor.window` records),
the active release's manifest (its features) and `<paths.label>/train.parquet` as the reference.
Per feature: the population stability index (PSI; numbers in the reference's deciles, categories
as they are, unseen ones together) and, for numbers, the two-sample Kolmogorov–Smirnov statistic;
for text, the number of words; and the PSI of the predicted classes against the training labels.
A feature with PSI over `monitor.psi_threshold` has drifted. Per feature, the share of logged records in which it
arrived missing (the model imputed it) or as a category the model never saw (`inputs`). Writes `reports/drift.json` and
`reports/drift.md`; with too few logged records (`monitor.min_rows`) it says so and judges nothing.
Run: `python -m millrace.ops.drift` or `millrace drift` (exit 3 with `--fail-on-drift` when drifted).
"""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from millrace.errors import MillraceError
from millrace.files import read_json, write_json, write_text

EPSILON = 1e-4  # floor on a bin's share, so an empty bin does not make PSI infinite
BINS = 10
DRIFTED_EXIT = 3


def _psi(reference: np.ndarray, current: np.ndarray) -> float:
    reference, current = np.maximum(reference, EPSILON), np.maximum(current, EPSILON)
    return float(np.sum((current - reference) * np.log(current / reference)))


def numeric_psi(reference: pd.Series, current: pd.Series) -> float:
    edges = np.unique(np.quantile(reference.dropna(), np.linspace(0, 1, BINS + 1)))
    edges[0], edges[-1] = -np.inf, np.inf
    shares = [np.histogram(s.dropna(), bins=edges)[0] / max(s.notna().sum(), 1) for s in (reference, current)]
    return _psi(*shares)


def categorical_psi(reference: pd.Series, current: pd.Series) -> tuple[float, float]:
    """PSI over the reference's categories plus one bin for unseen values; and the unseen share."""
    known = reference.astype("str").value_counts(normalize=True)
    now = current.astype("str")
    unseen = float((~now.isin(known.index)).mean())
    current_shares = now[now.isin(known.index)].value_counts().reindex(known.index, fill_value=0) / max(len(now), 1)
    return _psi(np.append(known.to_numpy(), 0.0), np.append(current_shares.to_numpy(), unseen)), unseen


def compare(reference: pd.DataFrame, current: pd.DataFrame, features: dict[str, Any], threshold: float) -> dict:
    from scipy.stats import ks_2samp

    found: dict[str, dict[str, Any]] = {}
    numeric = list(features.get("numeric", []))
    categorical = list(features.get("categorical", {}))
    text = features.get("text_column")
    columns = {c: reference[c] for c in numeric if c in current}
    if text and text in current:
        columns[f"{text} (words)"] = reference[text].astype("str").str.split().str.len()
        current = current.assign(**{f"{text} (words)": current[text].astype("str").str.split().str.len()})
    for column, values in columns.items():
        now = pd.to_numeric(current[column], errors="coerce")
        ks = ks_2samp(values.dropna(), now.dropna())
        found[column] = {
            "kind": "numeric",
            "psi": round(numeric_psi(values, now), 4),
            "ks_statistic": round(float(ks.statistic), 4),
            "ks_pvalue": float(ks.pvalue),
            "reference_mean": round(float(values.mean()), 4),
            "current_mean": round(float(now.mean()), 4),
        }
    for column in (c for c in categorical if c in current):
        psi, unseen = categorical_psi(reference[column], current[column])
        found[column] = {"kind": "categorical", "psi": round(psi, 4), "unseen_share": round(unseen, 4)}
    for figures in found.values():
        figures["drifted"] = figures["psi"] > threshold
    return found


def run(reference: pd.DataFrame, logged: pd.DataFrame, manifest: dict, settings) -> dict[str, Any]:
    report: dict[str, Any] = {
        "checked_at": datetime.now(UTC).isoformat(),
        "model_version": manifest["version"],
        "rows": len(logged),
        "psi_threshold": settings.psi_threshold,
    }
    if len(logged) < settings.min_rows:
        return report | {"drifted": None, "reason": f"{len(logged)} logged records, fewer than monitor.min_rows"}
    features = compare(reference, logged, manifest["features"], settings.psi_threshold)
    if manifest.get("classes"):
        trained = pd.Series(np.array(manifest["classes"])[reference["label"].to_numpy()])
        psi, _ = categorical_psi(trained, logged["_prediction"])
        features["(predicted class)"] = {
            "kind": "prediction",
            "psi": round(psi, 4),
            "drifted": psi > settings.psi_threshold,
        }
    drifted = sorted(name for name, f in features.items() if f["drifted"])
    found = report | {"drifted": bool(drifted), "drifted_features": drifted, "features": features}
    return found | {"inputs": input_shares(logged)}


def input_shares(logged: pd.DataFrame) -> dict[str, dict[str, float]]:
    """Per feature, the share of logged records where it was missing (imputed) or an unseen category."""
    noted = logged["_inputs"].dropna() if "_inputs" in logged else pd.Series(dtype=object)
    counts: dict[str, dict[str, int]] = {}
    for issues in noted:
        for kind, features in issues.items():
            for feature in features:
                counts.setdefault(feature, {"missing": 0, "unseen": 0})[kind] += 1
    rows = max(len(logged), 1)
    return {f: {k: round(n / rows, 4) for k, n in c.items()} for f, c in sorted(counts.items())}


def markdown(report: dict[str, Any]) -> str:
    lines = [f"# Drift: model {report['model_version']}", ""]
    lines.append(f"Checked {report['checked_at']} on {report['rows']} logged records.")
    if report["drifted"] is None:
        return "\n".join([*lines, "", f"No verdict: {report['reason']}.", ""])
    verdict = "Drifted: " + ", ".join(report["drifted_features"]) if report["drifted"] else "No drift"
    lines += ["", f"**{verdict}** (PSI threshold {report['psi_threshold']}).", ""]
    lines += ["| feature | PSI | KS | reference mean | current mean | drifted |", "|---|---|---|---|---|---|"]
    for name, f in report["features"].items():
        lines.append(
            f"| {name} | {f['psi']} | {f.get('ks_statistic', '')} | {f.get('reference_mean', '')} | "
            f"{f.get('current_mean', '')} | {'yes' if f['drifted'] else ''} |"
        )
    if report.get("inputs"):
        lines += ["", "| feature | missing (imputed) | unseen category |", "|---|---|---|"]
        lines += [f"| {n} | {f['missing']:.1%} | {f['unseen']:.1%} |" for n, f in report["inputs"].items()]
    return "\n".join([*lines, ""])


def main(argv: list[str] | None = None) -> int:
    from millrace.config.params import load_params
    from millrace.release import served
    from millrace.serving import request_log

    parser = argparse.ArgumentParser(prog="millrace drift", description=__doc__)
    parser.add_argument("--fail-on-drift", action="store_true", help=f"exit {DRIFTED_EXIT} when a feature drifted")
    args = parser.parse_args(argv)
    params = load_params()
    manifest = read_json(served.resolve(params).directory / "manifest.json")
    training = Path(params.paths.label) / "train.parquet"
    if not training.is_file():
        raise MillraceError(f"no training split at {training} to compare with; run `dvc repro` (or `dvc checkout`)")
    reference = pd.read_parquet(training)
    logged = request_log.read(params.paths.monitoring, params.monitor.window)
    report = run(reference, logged, manifest, params.monitor)
    reports = Path(params.paths.reports)
    write_json(reports / "drift.json", report)
    write_text(reports / "drift.md", markdown(report))
    print(markdown(report))
    return DRIFTED_EXIT if args.fail_on_drift and report["drifted"] else 0


if __name__ == "__main__":
    from millrace.entry import run_stage

    run_stage(lambda: sys.exit(main()))
