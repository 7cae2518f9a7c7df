"""Splitting labelled rows with a seed: stratified by class (by quintile of the target for regression), and
identical rows always in the same split, so a duplicate can never leak from training into evaluation."""

from __future__ import annotations

import pandas as pd
from sklearn.model_selection import train_test_split

from millrace.config.params import Split
from millrace.errors import MillraceError

SPLITS = ("train", "val", "test")


def split_rows(frame: pd.DataFrame, split: Split, seed: int, task: str) -> dict[str, pd.DataFrame]:
    """train, val and test, stratified by class (by quintile for regression), with identical rows kept together."""
    frame = frame.assign(_stratum=_strata(frame["label"], task))
    # Identical rows form one group, so a duplicate can never land in two splits.
    group = pd.util.hash_pandas_object(frame.drop(columns=["label", "_stratum"]), index=False)
    strata = frame["_stratum"].set_axis(pd.Index(group.to_numpy(), name="_group"))
    groups = strata[~strata.index.duplicated()].to_frame()  # the stratum alone: a copy of every column is not needed
    chosen = _split_groups(groups, split, seed)
    keys = frame.assign(_group=group.values)
    splits = {}
    for name in SPLITS:
        rows = keys[keys["_group"].isin(chosen[name])].drop(columns=["_group", "_stratum"])
        splits[name] = rows.reset_index(drop=True)
    return splits


def _split_groups(groups: pd.DataFrame, split: Split, seed: int) -> dict[str, pd.Index]:
    strata = groups["_stratum"]
    try:
        rest, test = train_test_split(groups.index, test_size=split.test, stratify=strata, random_state=seed)
        val_share = split.val / (split.train + split.val)
        train, val = train_test_split(rest, test_size=val_share, stratify=strata.loc[rest], random_state=seed)
    except ValueError as exc:
        counts = strata.value_counts().to_dict()
        raise MillraceError(f"cannot split stratified ({exc}); distinct rows per stratum: {counts}") from None
    return {"train": train, "val": val, "test": test}


def _strata(label: pd.Series, task: str) -> pd.Series:
    """Classes, or for regression the target's quintiles, so every split sees the whole range."""
    if task == "classification":
        return label
    return pd.qcut(label.astype("float64"), q=5, labels=False, duplicates="drop")
