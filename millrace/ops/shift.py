"""How far a column of logged requests has moved from the training split's: the population stability index
(numbers in the reference's deciles, categories as they are, unseen ones together) and, for numbers, the
two-sample Kolmogorov–Smirnov statistic. Shared by the drift checks of table, image and text models
(millrace/ops/drift.py) and of language models (millrace/ops/generation_drift.py).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

EPSILON = 1e-4  # floor on a bin's share, so an empty bin does not make PSI infinite
BINS = 10


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
