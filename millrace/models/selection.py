"""How select chooses: the data's profile, the machine's resources, each catalogue variant's estimated time and
memory, and the preference's rule among the candidates that fit.

Costs are the catalogue's (CPU seconds per row and epoch at a reference input size); an estimate scales them
by rows, epochs and the input's size, and divides by a family's GPU speed-up on a GPU. Memory is a rough
upper bound for training (weights, gradients, AdamW's moments and activations).
"""

from __future__ import annotations

import os
from typing import Any

import pandas as pd

from millrace.config.params import Model
from millrace.inputs.plans import data_kind
from millrace.models.catalogue import FAMILIES, ModelFamily, Variant

OVER_BUDGET = "estimated"  # how a rejection for time starts
BALANCED_SHARE = 0.25  # `balanced` keeps to candidates that need at most this share of the budget
REFERENCE_TOKENS = 16  # the catalogue's text costs are per text of this many tokens
REFERENCE_PIXELS = 64  # the catalogue's image costs are per 8×8 image


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
    if family.engine == "tree":  # boosting rounds, not epochs
        epochs = family.sizes[variant.size]["n_estimators"]
    if family.engine == "linear":  # one fit
        epochs = 1
    speedup = family.gpu_speedup if found["accelerator"] == "cuda" else 1.0
    seconds = variant.seconds(profile["rows"], epochs) * input_scale(family, profile) / speedup
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


def portfolio_of(model: Model, profile: dict[str, Any]) -> list[str]:
    """The families `model.portfolio` names for this data (every table family for auto), or none: it applies to
    tables when `model.name` is auto."""
    if model.name != "auto" or profile["kind"] != "tabular":
        return []
    if model.portfolio == "auto":
        return [f.name for f in FAMILIES.values() if "tabular" in f.data_kinds]
    return list(model.portfolio)


def overrides_of(model: Model) -> dict[str, str]:
    chosen = {"name": model.name, "strategy": model.strategy, "size": model.size}
    return {key: value for key, value in chosen.items() if value != "auto"}


def candidates(profile, found, model: Model, epochs: int) -> list[dict[str, Any]]:
    """Every registry variant with its estimate and, if it cannot be chosen, why not."""
    overrides = overrides_of(model)
    portfolio = portfolio_of(model, profile)
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
            if why is None and portfolio and family.name not in portfolio:
                why = f"not in model.portfolio ({', '.join(portfolio)})"
            if why is None and not family.automatic and "name" not in overrides and not portfolio:
                why = "chosen only by name (model.name), in a portfolio (model.portfolio) or as a distillation student"
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


def label(c: dict[str, Any]) -> str:
    return f"{c['family']} ({c['strategy']}, {c['size']})"
