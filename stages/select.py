"""select: choose the model family for the data from the registry, and say why.

Reads the training split and label map from `<paths.label>`, plus `model.name` and
`data.features`; writes `<paths.selection>` (models/selection.json): the chosen family, whether
params overrode the choice, the rules that fired and every rejected candidate with its reason.
Run: `python -m stages.select`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from stages.errors import MillraceError
from stages.features import feature_columns
from stages.io import read_json, write_json
from stages.params import load_params
from stages.registry import REGISTRY, ModelFamily

TEXT_MEAN_CHARS = 40  # string columns longer than this on average are free text, not categories


def describe(train: pd.DataFrame, features: list[str], classes: list[str]) -> dict[str, Any]:
    """What selection looks at: kind of data, task, and its size."""
    text = [
        c
        for c in features
        if not pd.api.types.is_numeric_dtype(train[c]) and train[c].astype("str").str.len().mean() > TEXT_MEAN_CHARS
    ]
    return {
        "kind": "text" if text else "tabular",
        "task": "classification",
        "rows": len(train),
        "features": len(features),
        "classes": len(classes),
        "text_columns": text,
    }


def _rejection(family: ModelFamily, profile: dict[str, Any]) -> str | None:
    if profile["kind"] not in family.data_kinds:
        return f"handles {sorted(family.data_kinds)} data, not {profile['kind']}"
    if profile["task"] not in family.tasks:
        return f"handles {sorted(family.tasks)}, not {profile['task']}"
    if family.max_rows is not None and profile["rows"] > family.max_rows:
        return f"{profile['rows']} rows exceed its limit of {family.max_rows}"
    return None


def run(profile: dict[str, Any], override: str) -> dict[str, Any]:
    """Pick a family (or honour `model.name`) and record the reasons."""
    rejected = {name: _rejection(family, profile) for name, family in REGISTRY.items()}
    if override != "auto":
        if override not in REGISTRY:
            raise MillraceError(f"model.name {override!r} is not registered; choose auto or one of {sorted(REGISTRY)}")
        if rejected[override]:
            raise MillraceError(f"model.name {override!r} cannot be used here: it {rejected[override]}")
        reasons = [f"model.name={override!r} in params.yaml overrides automatic selection"]
        return _selection(override, True, profile, reasons, rejected)
    fits = [name for name, why in rejected.items() if why is None]
    if not fits:
        raise MillraceError(f"no registered model family handles {profile['kind']} {profile['task']}: {rejected}")
    chosen = fits[0]
    reasons = [
        f"{profile['kind']} data, {profile['task']} with {profile['classes']} classes, "
        f"{profile['rows']} training rows, {profile['features']} features",
        f"{chosen}: {REGISTRY[chosen].description}; first registered family that fits",
    ]
    return _selection(chosen, False, profile, reasons, rejected)


def _selection(name, overridden, profile, reasons, rejected) -> dict[str, Any]:
    return {
        "family": name,
        "overridden": overridden,
        "data": profile,
        "reasons": reasons,
        "rejected": {n: why for n, why in rejected.items() if why and n != name},
    }


def main() -> None:
    params = load_params()
    label_dir = Path(params.paths.label)
    train = pd.read_parquet(label_dir / "train.parquet")
    classes = read_json(label_dir / "label_map.json")["classes"]
    features = feature_columns(train, params.data.target, params.data.features)
    selection = run(describe(train, features, classes), params.model.name)
    write_json(params.paths.selection, selection)


if __name__ == "__main__":
    from stages.cli import stage_main

    stage_main(main, __doc__)
