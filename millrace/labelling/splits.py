"""Splitting labelled rows so that a row's split never changes: it is a function of a seeded hash of the row's
key (`label.key`, or the row's normalised values), not of the other rows.

Adding or reordering rows moves no existing row to another split, and rows that are (near-)duplicates of each
other share a key, so they always land on the same side. The price of stability is that the split is not
stratified: the shares are met in expectation, and the labels gate checks every class reached every split.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from millrace.config.params import Split
from millrace.labelling.near_duplicates import normalised_hashes
from millrace.labelling.row_ids import hex_digits

SPLITS = ("train", "val", "test")


def positions(groups: np.ndarray, seed: int) -> np.ndarray:
    """Each group's place in [0, 1): a hash of its 64-bit hash, keyed by the seed (siphash)."""
    digits = pd.Series(hex_digits(groups), dtype="str")
    salted = pd.util.hash_pandas_object(digits, index=False, hash_key=f"millrace{seed % 2**32:08x}").to_numpy()
    return (salted >> np.uint64(11)).astype(np.float64) / float(2**53)


def split_groups(frame: pd.DataFrame, key: pd.Series | None) -> np.ndarray:
    """What keeps rows together: the declared key's values, or the row's normalised inputs."""
    if key is not None:
        return pd.util.hash_pandas_object(key.astype("str"), index=False).to_numpy()
    return normalised_hashes(frame)


def split_rows(
    frame: pd.DataFrame, split: Split, seed: int, key: pd.Series | None = None, inputs: list[str] | None = None
) -> dict[str, pd.DataFrame]:
    """train, val and test: a row goes to train when its place is below `split.train`, to val below
    `split.train + split.val`, else to test. `inputs` are the columns hashed when there is no key."""
    inputs = inputs if inputs is not None else [c for c in frame.columns if c != "label"]
    place = positions(split_groups(frame[inputs], key), seed)
    chosen = {"train": place < split.train, "test": place >= split.train + split.val}
    chosen["val"] = ~(chosen["train"] | chosen["test"])
    return {name: frame[chosen[name]].reset_index(drop=True) for name in SPLITS}
