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

import os
from pathlib import Path
from typing import Any

import pandas as pd

from millrace.config.params import Model, load_params
from millrace.errors import MillraceError
from millrace.files import read_json, write_json, write_text
from millrace.inputs.plans import data_kind, declared_text_column
from millrace.inputs.tabular import feature_columns
from millrace.models.catalogue import FAMILIES, ModelFamily, Variant

RESOURCES_LOG = Path(".millrace/logs/resources.json")  # what select found on this machine, for people
OVER_BUDGET = "estimated"  # how a rejection for time starts
BALANCED_SHARE = 0.25  # `balanced` keeps to candidates that need at most this share of the budget
REFERENCE_TOKENS = 16  # the registry's text costs are per text of this many tokens
REFERENCE_PIXELS = 64  # the registry's image costs are per 8×8 image


def describe(
    train: pd.DataFrame, features: list[str], classes: list[str], task: str = "classification", text_column=None
) -> dict:
    """What selection looks at: kind of data, task, and its size."""
    kind, column = data_kind(train, features, text_column)
    profile: dict[str, Any] = {
        "kind": kind,
        "task": task,
        "rows": len(train),
        "features": len(features),
        "classes": len(classes),
    }
    if kind == "text":
        words = train[column].str.split().str.len()
        profile |= {"text_column": column, "mean_words": round(float(words.mean()), 1)}
    if kind == "image":
        from millrace.inputs.images import open_image

        sizes = [open_image(v).size for v in train[column].head(200)]
        profile |= {"image_column": column, "image_pixels": int(sum(w * h for w, h in sizes) / len(sizes))}
    return profile


def resources(accelerator: str = "auto") -> dict[str, Any]:
    """What this machine offers for training: a CUDA GPU and its memory, or the CPU cores and memory."""
    memory = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    found: dict[str, Any] = {
        "accelerator": "cpu",
        "gpu_memory_gb": 0.0,
        "cpu_cores": os.cpu_count() or 1,
        "memory_gb": round(memory, 1),
    }
    if accelerator in ("cpu",):
        return found
    import torch

    if torch.cuda.is_available():
        memory = torch.cuda.get_device_properties(0).total_memory / 2**30
        found |= {"accelerator": "cuda", "gpu": torch.cuda.get_device_name(0), "gpu_memory_gb": round(memory, 1)}
    return found


def input_scale(family: ModelFamily, profile: dict[str, Any]) -> float:
    if profile["kind"] == "text":
        return max(profile.get("mean_words", REFERENCE_TOKENS) * 1.3 / REFERENCE_TOKENS, 0.25)
    if profile["kind"] == "image":
        return max(profile.get("image_pixels", REFERENCE_PIXELS) / REFERENCE_PIXELS, 1.0)
    return 1.0


def estimate_minutes(family: ModelFamily, variant: Variant, profile, found, epochs: int) -> float:
    speedup = family.gpu_speedup if found["accelerator"] == "cuda" else 1.0
    seconds = profile["rows"] * epochs * variant.cost * input_scale(family, profile) / speedup
    return seconds / 60


def training_memory_gb(family: ModelFamily, variant: Variant) -> float:
    """Weights, gradients and AdamW's two moments for what trains (16 bytes a weight), the rest
    as plain weights (4), plus half again for activations and workspace: a rough upper bound."""
    trains_everything = variant.strategy in ("full", "gradual_unfreeze")
    return family.parameters * (16 if trains_everything else 4) * 1.5 / 2**30


def _memory_limit(found: dict[str, Any]) -> tuple[float, str]:
    if found["accelerator"] == "cuda":
        return 0.9 * found["gpu_memory_gb"], "GPU memory"
    return 0.5 * found.get("memory_gb", float("inf")), "half the machine's memory"


def _mismatch(family: ModelFamily, profile: dict[str, Any]) -> str | None:
    if profile["kind"] not in family.data_kinds:
        return f"handles {'/'.join(sorted(family.data_kinds))} data, not {profile['kind']}"
    if profile["task"] not in family.tasks:
        return f"handles {'/'.join(sorted(family.tasks))}, not {profile['task']}"
    if family.max_rows is not None and profile["rows"] > family.max_rows:
        return f"{profile['rows']} rows exceed its limit of {family.max_rows}"
    return None


def _overrides(model: Model) -> dict[str, str]:
    chosen = {"name": model.name, "strategy": model.strategy, "size": model.size}
    return {key: value for key, value in chosen.items() if value != "auto"}


def candidates(profile, found, model: Model, epochs: int) -> list[dict[str, Any]]:
    """Every registry variant with its estimate and, if it cannot be chosen, why not."""
    overrides = _overrides(model)
    rows = []
    for family in FAMILIES.values():
        for variant in family.variants:
            minutes = estimate_minutes(family, variant, profile, found, epochs)
            row = {
                "family": family.name,
                "strategy": variant.strategy,
                "size": variant.size,
                "quality": variant.quality,
                "estimated_minutes": round(minutes, 2),
            }
            chosen = {"name": family.name, "strategy": variant.strategy, "size": variant.size}
            differs = [f"model.{k}={v}" for k, v in overrides.items() if chosen[k] != v]
            why = _mismatch(family, profile)
            if why is None and differs:
                why = f"not what params.yaml chose ({', '.join(differs)})"
            if why is None and not family.automatic and "name" not in overrides:
                why = "chosen only by name (model.name) or as a distillation student"
            needs, (limit, where) = training_memory_gb(family, variant), _memory_limit(found)
            row["memory_gb"] = round(needs, 2)
            if why is None and needs > limit:
                why = f"needs about {needs:.1f} GB to train > {limit:.1f} GB ({where})"
            if why is None and minutes > model.time_budget_minutes:
                why = f"{OVER_BUDGET} {minutes:.1f} min > budget {model.time_budget_minutes:g} min"
            row["rejected"] = why
            rows.append(row)
    return rows


def choose(fits: list[dict[str, Any]], preference: str, budget: float) -> tuple[dict[str, Any], str]:
    fastest = min(fits, key=lambda c: (c["estimated_minutes"], -c["quality"]))
    if preference == "speed":
        return fastest, "preference speed → the fastest candidate"
    best = max(fits, key=lambda c: (c["quality"], -c["estimated_minutes"]))
    if preference == "accuracy":
        return best, "preference accuracy → the highest-quality candidate within the budget"
    modest = [c for c in fits if c["estimated_minutes"] <= BALANCED_SHARE * budget]
    if not modest:
        return fastest, f"preference balanced, nothing fits in {BALANCED_SHARE:.0%} of the budget → the fastest"
    pick = max(modest, key=lambda c: (c["quality"], -c["estimated_minutes"]))
    return pick, f"preference balanced → the highest-quality candidate needing ≤ {BALANCED_SHARE:.0%} of the budget"


def _label(c: dict[str, Any]) -> str:
    return f"{c['family']} ({c['strategy']}, {c['size']})"


def run(profile: dict[str, Any], found: dict[str, Any], model: Model, epochs: int) -> dict[str, Any]:
    """Pick family, strategy and size (or honour params' choice) and record the reasons."""
    rows = candidates(profile, found, model, epochs)
    fits = [c for c in rows if c["rejected"] is None]
    overrides = _overrides(model)
    over_budget = [c for c in rows if (c["rejected"] or "").startswith(OVER_BUDGET)]
    if not fits and overrides and over_budget:
        fits = over_budget  # the user chose this model: it runs even though it may exceed the budget
    if not fits:
        reasons = "; ".join(f"{_label(c)}: {c['rejected']}" for c in rows)
        wanted = f" with {overrides}" if overrides else ""
        raise MillraceError(f"no registered model fits {profile['kind']} {profile['task']}{wanted}: {reasons}")
    accelerator = found.get("gpu", "no GPU") if found["accelerator"] == "cuda" else "no GPU"
    situation = (
        f"{profile['kind']} {profile['task']}, {profile['rows']} training rows, "
        f"{accelerator}, budget {model.time_budget_minutes:g} min, preference {model.preference}"
    )
    chosen, rule = choose(fits, model.preference, model.time_budget_minutes)
    reasons = [f"{situation} → {_label(chosen)}"]
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
            other["rejected"] = f"fits, but {rule.split(' → ')[0]} prefers {_label(chosen)}"
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
        "rejected": {_label(c): c["rejected"] for c in rows if c is not chosen},
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
        lines.append(f"| {_label(c)} | {c['quality']} | {minutes} | {memory} | {verdict} |")
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
    features = feature_columns(train, params.data.target, params.data.features)
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
