"""Near-duplicate rows: rows equal once text is normalised (case, accents' Unicode form, punctuation,
whitespace) and numbers are rounded to 9 significant digits.

Such rows are one sample written twice: the split keeps each group on one side, and the labels gate fails when
a validation or test row is a training row's near-duplicate.
"""

from __future__ import annotations

import unicodedata

import numpy as np
import pandas as pd

from millrace.inputs.columns import is_numeric, is_text


def normalised_text(text: str) -> str:
    """Lowercase, NFKC, every run of characters that are not letters or digits made one space."""
    folded = unicodedata.normalize("NFKC", text).casefold()
    return " ".join("".join(c if c.isalnum() else " " for c in folded).split())


def _normalised(series: pd.Series) -> pd.Series:
    if is_text(series):
        present = series.dropna().astype("str")
        codes, distinct = pd.factorize(present)  # each distinct text normalised once
        values = np.array([normalised_text(t) for t in distinct], dtype=object)[codes]
        return pd.Series(values, index=present.index, dtype=object).reindex(series.index)
    if is_numeric(series) and series.dtype.kind == "f":
        return series.map(lambda v: float(f"{v:.9g}"), na_action="ignore")
    return series


def normalised_hashes(frame: pd.DataFrame) -> np.ndarray:
    """One unsigned 64-bit hash per row of its normalised values."""
    normalised = pd.DataFrame({c: _normalised(frame[c]) for c in frame.columns}, index=frame.index)
    return pd.util.hash_pandas_object(normalised, index=False).to_numpy()


def across_splits(splits: dict[str, pd.DataFrame], inputs: list[str], names: dict[str, pd.Series]) -> pd.DataFrame:
    """Every validation or test row that repeats a training row's inputs: exactly, or once normalised.

    One row per such pair: the split, the row's name, the training row's name (from `names`, per split: the
    declared key or the row id) and whether the repeat is exact.
    """
    train_exact = pd.util.hash_pandas_object(splits["train"][inputs], index=False).to_numpy()
    train_near = normalised_hashes(splits["train"][inputs])
    first_train = pd.Series(names["train"].to_numpy(), index=train_near).groupby(level=0).first()
    found = []
    for split in ("val", "test"):
        near = normalised_hashes(splits[split][inputs])
        hit = np.isin(near, train_near)
        if not hit.any():
            continue
        exact = np.isin(pd.util.hash_pandas_object(splits[split][inputs], index=False).to_numpy(), train_exact)
        found.append(
            pd.DataFrame(
                {
                    "split": split,
                    "row": names[split].to_numpy()[hit],
                    "train_row": first_train.reindex(near[hit]).to_numpy(),
                    "exact": exact[hit],
                }
            )
        )
    columns = {"split": "str", "row": "str", "train_row": "str", "exact": "bool"}
    if not found:
        return pd.DataFrame({c: pd.Series(dtype=t) for c, t in columns.items()})
    return pd.concat(found, ignore_index=True).astype(columns)
