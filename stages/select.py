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
  and such an override wins even over the budget; the selection records it as such.

Writes `<paths.selection>` (models/selection.json: the choice, the rules that fired, each rejected
candidate and why) and `reports/selection.md` (the same, readable, with every candidate's time
and memory estimate and the machine's resources).
Run: `python -m stages.select`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from millrace.config.params import Model, load_params
from millrace.errors import MillraceError
from millrace.files import read_json, write_json, write_text
from millrace.inputs.plans import declared_text_column, feature_columns
from millrace.models.catalogue import FAMILIES
from millrace.models.selection import OVER_BUDGET, candidates, choose, describe, label, overrides_of, resources

RESOURCES_LOG = Path(".millrace/logs/resources.json")  # what select found on this machine, for people


def run(profile: dict[str, Any], found: dict[str, Any], model: Model, epochs: int) -> dict[str, Any]:
    """Pick family, strategy and size (or honour params' choice) and record the reasons."""
    rows = candidates(profile, found, model, epochs)
    fits = [c for c in rows if c["rejected"] is None]
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


def report(selection: dict[str, Any]) -> str:
    """reports/selection.md: the choice, the rules that fired and every candidate, readable."""
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


def main() -> None:
    params = load_params()
    label_dir = Path(params.paths.label)
    train = pd.read_parquet(label_dir / "train.parquet")
    labels = read_json(label_dir / "label_map.json")
    features = feature_columns(train, params.data)
    task = labels.get("task", "classification")
    profile = describe(train, features, labels["classes"], task, declared_text_column(params.data))
    selection = run(profile, resources(params.train.accelerator), params.model, params.train.max_epochs)
    # The choice and its reasons feed train; the machine's figures and the full candidate table
    # only the report, so a rerun on another machine that chooses the same retrains nothing.
    write_json(params.paths.selection, {k: v for k, v in selection.items() if k not in ("resources", "candidates")})
    write_text(Path(params.paths.reports) / "selection.md", report(selection))
    write_json(RESOURCES_LOG, selection["resources"])
    print(f"select: {selection['reasons'][0]}")


if __name__ == "__main__":
    from millrace.entry import stage_main

    stage_main(main, __doc__)
