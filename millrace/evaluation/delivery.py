"""The delivery standard: the thresholds the test metrics must meet (the metric itself, or with
`evaluate.standard: lower_bound` the pessimistic end of its bootstrap interval), and optionally the best
baseline's score and the reviewers' verdicts; the decision and a reason for each check."""

from __future__ import annotations

from typing import Any

from millrace.config.params import LOWER_IS_BETTER, Evaluate
from millrace.errors import MillraceError


def delivery(
    metrics: dict[str, Any],
    params: Evaluate,
    baselines: dict[str, Any] | None = None,
    review: dict | None = None,
    intervals: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Every declared threshold must be met (a floor, or a ceiling on errors), with `baseline_margin`
    the best baseline beaten by that much, and with `review.max_wrong` no more predictions marked
    wrong by reviewers; the reasons say which were. With `standard: lower_bound`, a metric with a
    bootstrap interval is judged by its pessimistic end."""
    unknown = [name for name in params.thresholds if name not in metrics]
    if unknown:
        available = [k for k, v in metrics.items() if isinstance(v, float)]
        raise MillraceError(
            f"evaluate.thresholds names {unknown}, which this task does not measure; use some of {available}"
        )
    checks = []
    for name, limit in params.thresholds.items():
        ceiling = name in LOWER_IS_BETTER
        judged, label = metrics[name], f"test/{name}"
        interval = (intervals or {}).get(name)
        if params.standard == "lower_bound" and interval:
            judged = interval["high"] if ceiling else interval["low"]
            label += f" ({'upper' if ceiling else 'lower'} 95% bound)"
        passed = judged <= limit if ceiling else judged >= limit
        check = {"metric": label, "value": judged, "threshold": limit, "passed": passed}
        checks.append(check | ({"point": metrics[name]} if judged != metrics[name] else {}))
    reasons = []
    for c in checks:
        ceiling = c["metric"].split("/")[1].split(" ")[0] in LOWER_IS_BETTER
        sign = ("<=" if c["passed"] else ">") if ceiling else (">=" if c["passed"] else "<")
        reasons.append(f"{c['metric']} {c['value']:.4f} {sign} {c['threshold']}")
    if params.baseline_margin is not None and baselines:
        best = baselines["best"]
        lead = metrics[best["metric"]] - best["value"]
        passed = lead >= params.baseline_margin
        checks.append(
            {
                "metric": f"test/{best['metric']} lead over {best['name']}",
                "value": lead,
                "threshold": params.baseline_margin,
                "passed": passed,
            }
        )
        reasons.append(
            f"test/{best['metric']} {metrics[best['metric']]:.4f} vs baseline {best['name']} {best['value']:.4f}: "
            f"lead {lead:+.4f} {'>=' if passed else '<'} {params.baseline_margin:+g}"
        )
    if params.review.min_win_rate is not None and review is not None and "current" in review:
        limit = params.review.min_win_rate
        rate = review.get("win_rate")
        if rate is not None and params.standard == "lower_bound" and review.get("interval"):
            rate = review["interval"]["low"]
        passed = rate is not None and rate >= limit
        checks.append({"metric": "review/win_rate", "value": rate, "threshold": limit, "passed": passed})
        reasons.append(
            f"reviewers preferred the tuned model in {rate:.1%} of {review['current']} current comparisons "
            f"{'>=' if passed else '<'} {limit:.0%}"
            if rate is not None
            else f"no current reviewer preferences (reports/review_preferences.csv) to judge win rate >= {limit:.0%}"
        )
    if params.review.max_wrong is not None and review is not None and "wrong" in review:
        passed = review["wrong"] <= params.review.max_wrong
        limit = params.review.max_wrong
        checks.append({"metric": "review/wrong", "value": review["wrong"], "threshold": limit, "passed": passed})
        reasons.append(f"reviewers marked {review['wrong']} predictions wrong {'<=' if passed else '>'} {limit}")
    return {"passed": all(c["passed"] for c in checks), "checks": checks, "reasons": reasons}
