"""select: choose model family, size and fine-tuning strategy for the data and resources, and say why.

Looks at the data profile (kind, task, rows, features, classes, text length, image size), the
resources (accelerator and its memory, `model.time_budget_minutes`) and `model.preference`:

- every registry variant (family × strategy × size) that handles the data's kind and task is a
  candidate; its training time is estimated from the registry's cost, rows, `train.max_epochs`,
  the input's scale and the accelerator; a candidate over the time budget, or whose training
  would not fit the accelerator's memory (half the machine's on a CPU), is rejected;
- `speed` takes the fastest candidate, `accuracy` the highest quality one, `balanced` the highest
  quality one that needs at most a quarter of the budget (else the fastest);
- `model.name`, `model.strategy` and `model.size` narrow the candidates to what the user chose,
  and such an override wins even over the budget; the selection records it as such;
- on a table with `model.name: auto` and two or more families in `model.portfolio`, the families are not
  ranked by prior but compared: each one's fixed configurations are fitted and judged on held-out data
  (millrace/training/portfolio.py: 5-fold cross-validation below 10,000 rows) within the time budget, and the
  best is chosen; `reports/selection.md` is then the leaderboard.

Writes `<paths.selection>` (models/selection.json: the choice, the rules that fired, each rejected
candidate and why) and `reports/selection.md` (the same, readable, with every candidate's time
and memory estimate and the machine's resources).
Run: `python -m stages.select`.

A causal language model (`data.task` sft or pretraining) takes millrace/language/steps/select.py instead.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from millrace.config.params import LANGUAGE_TASKS, Model, load_params
from millrace.errors import MillraceError
from millrace.files import read_json, write_json, write_text
from millrace.inputs.plans import declared_text_column, feature_columns
from millrace.models.catalogue import FAMILIES
from millrace.models.selection import (
    OVER_BUDGET,
    candidates,
    choose,
    describe,
    label,
    overrides_of,
    portfolio_of,
    resources,
)

RESOURCES_LOG = Path(".millrace/logs/resources.json")  # what select found on this machine, for people


def run(
    profile: dict[str, Any], found: dict[str, Any], model: Model, epochs: int, judge: Callable | None = None
) -> dict[str, Any]:
    """Pick family, strategy and size (or honour params' choice) and record the reasons.

    `judge(families)` fits and judges a portfolio's candidates (millrace.training.portfolio.compare, bound to
    the data); it is called when `model.portfolio` names two or more families that fit this data.
    """
    rows = candidates(profile, found, model, epochs)
    fits = [c for c in rows if c["rejected"] is None]
    compared = list(dict.fromkeys(c["family"] for c in fits))
    if judge is not None and len(portfolio_of(model, profile)) > 1 and len(compared) > 1:
        return _from_portfolio(profile, found, model, rows, judge([FAMILIES[name] for name in compared]))
    overrides = overrides_of(model)
    over_budget = [c for c in rows if (c["rejected"] or "").startswith(OVER_BUDGET)]
    if not fits and overrides and over_budget:
        fits = over_budget  # the user chose this model: it runs even though it may exceed the budget
    if not fits:
        reasons = "; ".join(f"{label(c)}: {c['rejected']}" for c in rows)
        wanted = f" with {overrides}" if overrides else ""
        raise MillraceError(f"no registered model fits {profile['kind']} {profile['task']}{wanted}: {reasons}")
    accelerator = found.get("gpu", "no GPU") if found["accelerator"] == "cuda" else "no GPU"
    situation = (
        f"{profile['kind']} {profile['task']}, {profile['rows']} training rows, "
        f"{accelerator}, budget {model.time_budget_minutes:g} min, preference {model.preference}"
    )
    chosen, rule = choose(fits, model.preference, model.time_budget_minutes)
    reasons = [f"{situation} → {label(chosen)}"]
    if overrides:
        reasons.append(
            "params.yaml chose " + ", ".join(f"model.{k}={v}" for k, v in overrides.items()) + " (override wins)"
        )
        if chosen["estimated_minutes"] > model.time_budget_minutes:
            reasons.append(f"note: estimated {chosen['estimated_minutes']:.1f} min exceeds the budget; kept as chosen")
    reasons += [rule, f"{chosen['family']}: {FAMILIES[chosen['family']].description}"]
    chosen["rejected"] = None
    for other in fits:
        if other is not chosen:
            other["rejected"] = f"fits, but {rule.split(' → ')[0]} prefers {label(chosen)}"
    return {
        "family": chosen["family"],
        "strategy": chosen["strategy"],
        "size": chosen["size"],
        "estimated_minutes": chosen["estimated_minutes"],
        "overridden": overrides,
        "data": profile,
        "resources": found,
        "reasons": reasons,
        "candidates": rows,
        "rejected": {label(c): c["rejected"] for c in rows if c is not chosen},
    }


def _from_portfolio(profile, found, model: Model, rows, results) -> dict[str, Any]:
    """The selection when a portfolio was judged: its winner, the leaderboard and why each other candidate lost."""
    from millrace.training.portfolio import BASELINE, CV_ROWS, ENSEMBLE, FOLDS, best_baseline, judged, why_lost, winner

    task = profile["task"]
    metric = "accuracy" if task == "classification" else "r2"
    if not judged(results):
        raise MillraceError(
            f"model.time_budget_minutes ({model.time_budget_minutes:g}) is too short to judge any candidate of the "
            f"portfolio: {results[0].skipped}; raise it or list fewer families in model.portfolio"
        )
    best = winner(results, task)
    family = FAMILIES.get(best.candidate.family)
    how = f"{FOLDS}-fold cross-validation on train + validation" if best.error is not None else "the validation split"
    families = ", ".join(
        dict.fromkeys(r.candidate.family for r in results if r.candidate.family not in (BASELINE, ENSEMBLE))
    )
    config = configuration(best.candidate.config)
    spread = f" ± {best.error:.4f}" if best.error is not None else ""
    candidates = [r for r in results if r.candidate.family != BASELINE]
    tried = sum(r.skipped is None for r in candidates)
    baseline = best_baseline(results)
    reasons = [
        f"{profile['kind']} {task}, {profile['rows']} training rows, portfolio of {families} → "
        f"{best.candidate.name} ({config})",
        f"{tried} of {len(candidates)} candidates judged by {how} within {model.time_budget_minutes:g} min; "
        f"best held-out {metric} {best.score:.4f}{spread} (cross-validation below {CV_ROWS:,} rows)"
        + (f"; best baseline on the same rows: {baseline.candidate.name} {baseline.score:.4f}" if baseline else ""),
        f"{family.name}: {family.description}"
        if family
        else f"{ENSEMBLE}: the weighted average of {config}'s outputs, the weights fitted on their held-out outputs",
    ]
    if best.epochs:
        reasons.append(
            f"its final fit trains at most {best.epochs} epochs, as many as its longest judged fit ran: the time "
            "budget kept back for it was planned on that fit"
        )

    def rank(result):
        judged = result.skipped is None and result.score is not None and not np.isnan(result.score)
        return (not judged, -result.score if judged else 0.0, result.loss if judged else 0.0)

    leaderboard = []
    for result in sorted(results, key=rank):
        verdict = "**chosen**" if result is best else why_lost(result, best, metric)
        leaderboard.append(result.row() | {"verdict": verdict})
    in_portfolio = {r.candidate.family for r in results}
    return {
        **best.final_selection(family),
        "overridden": {},
        "data": profile,
        "resources": found,
        "reasons": reasons,
        "candidates": rows,
        "leaderboard": leaderboard,
        "metric": metric,
        "held_out": {"metric": metric, "score": best.score, "error": best.error, "loss": best.loss}
        | (
            {"baseline": {"name": baseline.candidate.config["model"], "score": baseline.score, "error": baseline.error}}
            if baseline
            else {}
        ),
        "rejected": {e["candidate"]: e["verdict"] for e in leaderboard if e["verdict"] != "**chosen**"}
        | {label(c): c["rejected"] for c in rows if c["rejected"] and c["family"] not in in_portfolio},
    }


def report(selection: dict[str, Any]) -> str:
    """reports/selection.md: the choice, the rules that fired and every candidate, readable."""
    if "leaderboard" in selection:
        return _leaderboard_report(selection)
    lines = [
        f"# Model selection: {selection['family']} ({selection['strategy']}, {selection['size']})",
        "",
        *[f"- {reason}" for reason in selection["reasons"]],
        "",
        "| candidate | quality | estimated minutes | memory GB | verdict |",
        "|---|---:|---:|---:|---|",
    ]
    for c in selection["candidates"]:
        chosen = (c["family"], c["strategy"], c["size"]) == (
            selection["family"],
            selection["strategy"],
            selection["size"],
        )
        verdict = "**chosen**" if chosen else f"rejected: {c['rejected']}"
        minutes, memory = f"{c['estimated_minutes']:.2f}", f"{c['memory_gb']:.2f}"
        lines.append(f"| {label(c)} | {c['quality']} | {minutes} | {memory} | {verdict} |")
    found = selection["resources"]
    machine = found.get("gpu") or f"{found['cpu_cores']} CPU cores, no GPU"
    # The machine's memory differs between machines of one kind; it is in the untracked log, not in git.
    lines += ["", f"Data: `{selection['data']}`", "", f"Resources: {machine} (memory: {RESOURCES_LOG})", ""]
    return "\n".join(lines)


def configuration(config: dict[str, Any]) -> str:
    """A candidate's configuration in a few words: its options, or an ensemble's members and weights."""
    if "model" in config:  # a baseline
        return "scikit-learn's defaults"
    if "of" in config:
        return " + ".join(f"{name} ×{weight:g}" for name, weight in config["of"].items())
    return ", ".join(f"{k}={v}" for k, v in config.items()) or "defaults"


def _leaderboard_report(selection: dict[str, Any]) -> str:
    """reports/selection.md for a portfolio: every candidate's held-out score, cost and verdict, best first."""
    metric = selection["metric"]
    title = next(e["candidate"] for e in selection["leaderboard"] if e["verdict"] == "**chosen**")
    lines = [
        f"# Model selection: {title} (portfolio)",
        "",
        *[f"- {reason}" for reason in selection["reasons"]],
        "",
        f"| candidate | configuration | {metric} (± SE) | loss | fit s | size | latency ms | verdict |",
        "|---|---|---:|---:|---:|---:|---:|---|",
    ]
    for e in selection["leaderboard"]:
        config = configuration(e["config"])
        if e["skipped"]:
            lines.append(f"| {e['candidate']} | {config} | | | | | | {e['verdict']} |")
            continue
        spread = f" ± {e['error']:.4f}" if e["error"] is not None else ""
        cached = " (cached)" if e["cached"] else ""
        figures = f"{e['score']:.4f}{spread} | {e['loss']:.4f} | {e['fit_seconds']:.2f}{cached}"
        size, latency = (e["size"], f"{e['latency_ms']:.2f}") if e["family"] != "baseline" else ("—", "—")
        lines.append(f"| {e['candidate']} | {config} | {figures} | {size} | {latency} | {e['verdict']} |")
    others = [
        c
        for c in selection["candidates"]
        if c["rejected"] and c["family"] not in {e["family"] for e in selection["leaderboard"]}
    ]
    exports = {
        e["family"]: e["export_seconds"] for e in selection["leaderboard"] if e.get("export_seconds") is not None
    }
    if exports:
        timed = ", ".join(f"{family} {seconds:.2f} s" for family, seconds in exports.items())
        lines += ["", f"Export (the graphs deploy writes, timed on each family's first candidate): {timed}."]
    if others:
        lines += ["", "Not in the portfolio for this data:", ""]
        lines += sorted({f"- {c['family']}: {c['rejected']}" for c in others})
    lines += [
        "",
        "Score: the mean over the folds (or the validation split); SE: the folds' standard deviation / √folds; "
        "loss: log loss (RMSE for values), the tie-breaker; fit s: seconds per fit; size: parameters, tree nodes "
        "or coefficients; latency: one row through the input plan and the model, in process.",
    ]
    found = selection["resources"]
    machine = found.get("gpu") or f"{found['cpu_cores']} CPU cores, no GPU"
    lines += ["", f"Data: `{selection['data']}`", "", f"Resources: {machine} (memory: {RESOURCES_LOG})", ""]
    return "\n".join(lines)


def main() -> None:
    params = load_params()
    if params.data.task in LANGUAGE_TASKS:  # a causal language model: millrace/language/steps
        from millrace.language.steps import select as language

        language.main(params)
        return
    label_dir = Path(params.paths.label)
    train = pd.read_parquet(label_dir / "train.parquet")
    labels = read_json(label_dir / "label_map.json")
    features = feature_columns(train, params.data)
    task = labels.get("task", "classification")
    profile = describe(train, features, labels["classes"], task, declared_text_column(params.data))
    started = time.monotonic()

    def judge(families):
        from millrace.training import portfolio

        val = pd.read_parquet(label_dir / "val.parquet")
        spent = time.monotonic() - started
        budget = params.model.time_budget_minutes * 60 - spent
        return portfolio.compare(
            families,
            train,
            val,
            labels,
            params,
            budget,
            ensemble=params.model.ensemble,
            baselines=params.evaluate.baselines,
        )

    selection = run(profile, resources(params.train.accelerator), params.model, params.train.max_epochs, judge)
    # The choice and its reasons feed train; the machine's figures, the full candidate table and the
    # leaderboard's timings only the report, so a rerun on another machine that chooses the same retrains nothing.
    kept = {k: v for k, v in selection.items() if k not in ("resources", "candidates")}
    if "leaderboard" in kept:
        scores = ("candidate", "score", "error", "loss", "verdict")
        kept["leaderboard"] = [{k: e[k] for k in scores} for e in kept["leaderboard"]]
    write_json(params.paths.selection, kept)
    write_text(Path(params.paths.reports) / "selection.md", report(selection))
    write_json(RESOURCES_LOG, selection["resources"])
    print(f"select: {selection['reasons'][0]}")
    if "leaderboard" in selection:
        print(f"select: {selection['reasons'][1]}; the leaderboard: {Path(params.paths.reports) / 'selection.md'}")


if __name__ == "__main__":
    from millrace.entry import stage_main

    stage_main(main, __doc__)
