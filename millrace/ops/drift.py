"""drift: compare what the server has been asked with what the served model was trained on.

Reads the request log (`<paths.monitoring>/requests.sqlite`, the last `monitor.window` records),
the active release's manifest (its features) and `<paths.label>/train.parquet` as the reference.
Per feature: the population stability index (PSI; numbers in the reference's deciles, categories
as they are, unseen ones together) and, for numbers, the two-sample Kolmogorov–Smirnov statistic;
for text, the number of words; and the PSI of the predicted classes against the training labels.
A feature with PSI over `monitor.psi_threshold` has drifted. Per feature, the share of logged records in which it
arrived missing (the model imputed it) or as a category the model never saw (`inputs`). Writes `reports/drift.json` and
`reports/drift.md`; with too few logged records (`monitor.min_rows`) it says so and judges nothing. A language
model's requests are judged by millrace/ops/generation_drift.py (lengths, finish reasons, refusals, latency).
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

from millrace.config.params import LANGUAGE_TASKS
from millrace.errors import MillraceError
from millrace.files import read_json, write_json, write_text
from millrace.ops import generation_drift
from millrace.ops.shift import categorical_psi, compare

DRIFTED_EXIT = 3


def run(reference: pd.DataFrame, logged: pd.DataFrame, manifest: dict, settings) -> dict[str, Any]:
    report: dict[str, Any] = {
        "checked_at": datetime.now(UTC).isoformat(),
        "model_version": manifest["version"],
        "rows": len(logged),
        "psi_threshold": settings.psi_threshold,
    }
    if len(logged) < settings.min_rows:
        return report | {"drifted": None, "reason": f"{len(logged)} logged records, fewer than monitor.min_rows"}
    if manifest.get("task") in LANGUAGE_TASKS:  # `reference`: the training prompts' and answers' lengths, or None
        return report | generation_drift.run(reference, logged, settings)
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
            f"| {name} | {'—' if f['psi'] is None else f['psi']} | {f.get('ks_statistic', '')} | "
            f"{f.get('reference_mean', '')} | {f.get('current_mean', '')} | {'yes' if f['drifted'] else ''} |"
        )
    if report.get("reason"):
        lines += ["", f"Not judged: {report['reason']}."]
    if report.get("answers"):
        lines += generation_drift.markdown_lines(report["answers"])
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
    directory = served.resolve(params).directory
    manifest = read_json(directory / "manifest.json")
    training = Path(params.paths.label) / "train.parquet"
    if not training.is_file():
        raise MillraceError(f"no training split at {training} to compare with; run `dvc repro` (or `dvc checkout`)")
    if manifest.get("task") == "sft":
        reference = generation_drift.reference_lengths(training.parent, directory / "bundle")
    else:
        reference = None if manifest.get("task") in LANGUAGE_TASKS else pd.read_parquet(training)
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
