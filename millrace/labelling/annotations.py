"""Human annotations kept beside the data: read, resolve between annotators, measure their agreement.

An annotations file (`label.annotations`) is a CSV / JSON Lines table with a key column and a
label column (and optionally an annotator column), or a Label Studio JSON export (each task's
`data.<key>` and every annotation's chosen class, `completed_by` as the annotator), so labels
exported by the active-learning step come back unchanged. Several annotators on one row: the
majority wins; a tie leaves the row to other label sources and is counted. Agreement between
annotators is Cohen's kappa per pair, on the rows both labelled.
"""

from __future__ import annotations

import json
from itertools import combinations
from pathlib import Path
from typing import Any

import pandas as pd

from millrace.errors import MillraceError
from millrace.sources.tables import format_of, read_table


def _label_studio(path: Path, key: str, where: str) -> pd.DataFrame:
    try:
        tasks = json.loads(path.read_text(encoding="utf-8-sig"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise MillraceError(f"{where}: not a Label Studio JSON export: {exc}") from None
    rows = []
    for task in tasks if isinstance(tasks, list) else []:
        item = (task.get("data") or {}).get(key)
        for annotation in task.get("annotations") or []:
            if annotation.get("was_cancelled"):
                continue
            choices = [c for r in annotation.get("result") or [] for c in (r.get("value") or {}).get("choices") or []]
            if choices:
                rows.append({"key": item, "label": choices[0], "annotator": str(annotation.get("completed_by", ""))})
    if not rows:
        raise MillraceError(f"{where}: no completed annotation with a choice in the Label Studio export")
    return pd.DataFrame(rows)


def read(spec, index: int) -> pd.DataFrame:
    """The file as (key, label, annotator) rows; labels as text, like the target's classes."""
    where = f"label.annotations[{index}] {spec.path!r}"
    path = Path(spec.path)
    if not path.is_file():
        raise MillraceError(f"{where}: no such file")
    fmt = format_of(path)
    if fmt == "json" and path.read_bytes().lstrip()[:1] == b"[" and spec.label_column not in _first_keys(path):
        return _label_studio(path, spec.key, where)
    if fmt not in ("csv", "tsv", "jsonl", "json", "parquet"):
        raise MillraceError(f"{where}: expected a CSV, JSON Lines, Parquet or Label Studio JSON file")
    frame = read_table(path, fmt, where=where).frame
    wanted = [spec.key, spec.label_column, *([spec.annotator_column] if spec.annotator_column else [])]
    missing = [c for c in wanted if c not in frame.columns]
    if missing:
        raise MillraceError(f"{where}: no column(s) {missing}; columns: {list(frame.columns)}")
    out = pd.DataFrame({"key": frame[spec.key], "label": frame[spec.label_column]})
    out["annotator"] = frame[spec.annotator_column].astype("str") if spec.annotator_column else ""
    return out.dropna(subset=["key", "label"])


def _first_keys(path: Path) -> set[str]:
    try:
        first = json.loads(path.read_text(encoding="utf-8-sig"))[0]
    except (ValueError, IndexError, KeyError, TypeError):
        return set()
    return set(first) if isinstance(first, dict) else set()


def resolve(annotations: pd.DataFrame) -> tuple[pd.Series, int]:
    """One label per key (the annotators' majority) and how many keys were tied."""
    if annotations.empty:
        return pd.Series(dtype="object"), 0
    labels = annotations.assign(label=annotations["label"].astype("str"), key=annotations["key"].astype("str"))
    counts = labels.groupby(["key", "label"]).size().rename("n").reset_index()
    top = counts.groupby("key")["n"].transform("max")
    leaders = counts[counts["n"] == top]
    tied = leaders.groupby("key").size() > 1
    winners = leaders[~leaders["key"].isin(tied[tied].index)].set_index("key")["label"]
    return winners.astype("object"), int(tied.sum())


def agreement(annotations: pd.DataFrame) -> dict[str, Any]:
    """Cohen's kappa for each pair of annotators over the rows both labelled (pairs with ≥ 2 shared rows)."""
    from sklearn.metrics import cohen_kappa_score

    named = annotations[annotations["annotator"].astype("str") != ""]
    table = named.assign(label=named["label"].astype("str"), key=named["key"].astype("str")).pivot_table(
        index="key", columns="annotator", values="label", aggfunc="first"
    )
    pairs = {}
    for a, b in combinations(sorted(table.columns), 2):
        both = table[[a, b]].dropna()
        if len(both) >= 2:
            kappa = cohen_kappa_score(both[a], both[b])
            pairs[f"{a} vs {b}"] = {"rows": len(both), "kappa": None if kappa != kappa else round(float(kappa), 4)}
    scored = [p["kappa"] for p in pairs.values() if p["kappa"] is not None]
    return {"pairs": pairs, "mean_kappa": round(sum(scored) / len(scored), 4) if scored else None}
