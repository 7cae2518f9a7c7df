"""The model card every bundle carries (MODEL_CARD.md): what the model is, what it was trained and
judged on, how it did overall and per slice, and where it is weakest — from what the stages wrote,
nothing typed by hand."""

from __future__ import annotations

from typing import Any


def _number(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _metrics(evaluation: dict[str, Any]) -> list[str]:
    intervals = evaluation.get("confidence_intervals", {})
    validation = evaluation.get("validation", {})
    lines = ["| metric | validation (chose) | test (reported once) | test 95% interval |", "|---|---|---|---|"]
    for name, value in evaluation["test"].items():
        if isinstance(value, float):
            span = intervals.get(name)
            interval = f"{span['low']:.4f}–{span['high']:.4f}" if span else ""
            lines.append(f"| {name} | {_number(validation.get(name, ''))} | {value:.4f} | {interval} |")
    return lines


def _inputs(manifest: dict[str, Any]) -> list[str]:
    """What a record holds (the input signature) and which columns the model does not read."""
    signature = manifest.get("signature")
    if not signature:
        return [f"Inputs: {', '.join(manifest.get('inputs', []))}."]
    lines = ["| feature | type | role | may be missing |", "|---|---|---|---|"]
    lines += [
        f"| {f['name']} | {f['type']} | {f['role']} | {'yes (imputed)' if f['may_be_missing'] else 'no'} |"
        for f in signature
    ]
    excluded = (manifest.get("features") or {}).get("excluded") or {}
    if excluded:
        lines += ["", "Not read: " + "; ".join(f"`{c}` ({why})" for c, why in excluded.items()) + "."]
    return lines


def _slices(evaluation: dict[str, Any]) -> list[str]:
    sliced = evaluation.get("slices", {}).get("columns", {})
    if not sliced:
        return ["No slices declared (`evaluate.slices`)."]
    lines = ["| column | value | rows | " + " | ".join(_slice_metrics(sliced)) + " |"]
    lines.append("|---" * (3 + len(_slice_metrics(sliced))) + "|")
    for column, values in sliced.items():
        for value, found in values.items():
            cells = [_number(found.get(m, "")) for m in _slice_metrics(sliced)]
            lines.append(f"| {column} | {value} | {found['rows']} | " + " | ".join(cells) + " |")
    return lines


def _slice_metrics(sliced: dict[str, Any]) -> list[str]:
    first = next(iter(next(iter(sliced.values())).values()))
    return [k for k in first if k != "rows"]


def _importance(evaluation: dict[str, Any]) -> list[str]:
    found = evaluation.get("feature_importance")
    if not found:
        return []
    lines = [f"## Feature importance ({found['kind']})", "", "| feature | share |", "|---|---|"]
    return [*lines, *(f"| {name} | {share:.1%} |" for name, share in list(found["features"].items())[:15]), ""]


def _limits(manifest: dict[str, Any], evaluation: dict[str, Any], labels: dict[str, Any]) -> list[str]:
    limits = []
    per_class = evaluation["test"].get("per_class")
    if per_class:
        weakest = min(per_class, key=lambda c: per_class[c]["recall"])
        limits.append(f"Weakest class: **{weakest}** (recall {per_class[weakest]['recall']:.3f}).")
    worst = evaluation.get("slices", {}).get("worst")
    if worst:
        judged = [k for k in worst if k not in ("column", "value")][0]
        limits.append(f"Worst slice: **{worst['column']} = {worst['value']}** ({judged} {worst[judged]:.3f}).")
    if "calibration_error" in evaluation["test"]:
        limits.append(
            f"Calibration error {evaluation['test']['calibration_error']:.3f}: treat probabilities as scores."
        )
    rows = labels.get("rows", {})
    if rows:
        seen = f"Trained on {rows.get('train')} rows, judged on {rows.get('test')}"
        limits.append(f"{seen}; predictions for inputs unlike them are extrapolation.")
    review = evaluation.get("review", {})
    if review.get("wrong"):
        limits.append(f"Reviewers marked {review['wrong']} shown predictions wrong (reports/review.html).")
    baselines = evaluation.get("baselines", {}).get("best")
    if baselines:
        primary = baselines["metric"]
        lead = evaluation["test"][primary] - baselines["value"]
        limits.append(f"Against the best simple baseline ({baselines['name']}): {primary} {lead:+.4f}.")
    return [f"- {line}" for line in limits]


def _variants(manifest: dict[str, Any]) -> list[str]:
    found = manifest.get("variants") or {}
    lines = ["| variant | bytes | gzip bytes | validation metric | shipped |", "|---|---|---|---|---|"]
    for name, v in found.items():
        shipped = "no: " + v["refused"] if "refused" in v else "yes"
        if "bytes" not in v:  # never built
            lines.append(f"| {name} | — | — | — | {shipped} |")
            continue
        lines.append(f"| {name} | {v['bytes']} | {v['gzip_bytes']} | {v['metric']:.4f} | {shipped} |")
    if found:  # latency and throughput differ from run to run; the card is part of a reproducible bundle
        lines += [
            "",
            "Latency and throughput of each, measured where deploy ran: `.millrace/logs/deploy_timings.json`.",
        ]
    return lines if found else ["None measured."]


def render(manifest: dict[str, Any], evaluation: dict[str, Any], labels: dict[str, Any]) -> str:
    """The card, from the bundle's manifest, evaluate's metrics.json and label's label_map.json."""
    params = manifest.get("params", {})
    source = params.get("data", {}).get("source", {})
    origin = source.get("name") or source.get("path") or source.get("url") or source.get("query") or "?"
    classes = ", ".join(manifest.get("classes") or []) or "—"
    decision = manifest.get("delivery", {})
    lines = [
        f"# Model card: {manifest['family']} ({manifest['strategy']}) — {manifest['version']}",
        "",
        f"- **Task**: {manifest['task']} of `{manifest['target']}` from {manifest['kind']} data; classes: {classes}",
        f"- **Inputs**: {', '.join(manifest.get('inputs', []))}; output `{manifest.get('output')}`",
        f"- **Weights**: sha256 `{manifest['weights_sha256'][:16]}…`; data sha256 `{manifest['data_sha256'][:16]}…`",
        f"- **Delivery standard**: {'met' if decision.get('passed') else 'NOT met'} — "
        + "; ".join(decision.get("reasons", [])),
        "",
        "## Data",
        "",
        f"- Source: {source.get('kind', '?')} `{origin}`",
        f"- Labelled splits sha256: `{manifest.get('data_sha256', '')[:16]}…`",
        f"- Rows: {labels.get('rows', {})}",
        "",
        "## Inputs",
        "",
        *_inputs(manifest),
        "",
        "## Metrics",
        "",
        *_metrics(evaluation),
        "",
        "## Slices",
        "",
        *_slices(evaluation),
        "",
        "## Variants (ONNX Runtime, this machine)",
        "",
        *_variants(manifest),
        "",
        *_importance(evaluation),
        "## Limits",
        "",
        *_limits(manifest, evaluation, labels),
        "",
    ]
    return "\n".join(lines)
