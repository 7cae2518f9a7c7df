"""label: the split is stratified, seeded, complete, keeps duplicates together and says when it cannot be made."""

from __future__ import annotations

import pandas as pd
import pytest

from millrace.config.params import Split
from millrace.errors import MillraceError
from millrace.labelling.splits import SPLITS
from stages.label import run


def test_split_is_stratified_deterministic_and_complete(penguins):
    data = penguins.dropna()
    first, classes, task = run(data, "species", Split(), seed=7)
    again, _, _ = run(data, "species", Split(), seed=7)
    assert classes == ["Adelie", "Chinstrap", "Gentoo"] and task == "classification"
    assert sum(len(first[s]) for s in SPLITS) == len(data)
    for name in SPLITS:
        pd.testing.assert_frame_equal(first[name], again[name])
        assert set(first[name]["label"]) == {0, 1, 2}
    assert len(first["train"]) > len(first["val"])


def test_a_different_seed_gives_a_different_split(penguins):
    data = penguins.dropna()
    a, _, _ = run(data, "species", Split(), seed=1)
    b, _, _ = run(data, "species", Split(), seed=2)
    assert not a["test"].equals(b["test"])


def test_duplicates_never_straddle_splits():
    base = pd.DataFrame({"y": ["a", "b"] * 30, "x": range(60)})
    data = pd.concat([base, base.iloc[:20]], ignore_index=True)  # 20 rows appear twice
    splits, _, _ = run(data, "y", Split(), seed=0)
    seen = {name: set(map(tuple, f[["y", "x"]].itertuples(index=False))) for name, f in splits.items()}
    assert not seen["train"] & seen["test"]
    assert not seen["train"] & seen["val"]
    assert not seen["val"] & seen["test"]
    assert sum(len(f) for f in splits.values()) == 80


def test_a_continuous_target_is_regression_split_across_its_range():
    data = pd.DataFrame({"y": [0.5 * i for i in range(100)], "x": range(100)})
    splits, classes, task = run(data, "y", Split(), seed=0)
    assert task == "regression" and classes == []
    assert splits["train"]["label"].dtype.kind == "f"
    for frame in splits.values():  # quintile strata: every split sees low and high targets
        assert frame["label"].min() < 10 and frame["label"].max() > 40


def test_too_few_rows_per_class_is_explained():
    data = pd.DataFrame({"y": ["a"] * 20 + ["b"], "x": range(21)})
    with pytest.raises(MillraceError, match="cannot split stratified"):
        run(data, "y", Split(), seed=0)
