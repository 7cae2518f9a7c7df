"""label: the split is seeded, complete and stable (a row never moves when rows are added), and keeps exact and
near-duplicates together; the gate names classes missing from a split and near-duplicate pairs across splits."""

from __future__ import annotations

import pandas as pd
import pytest

from millrace.config.params import Split
from millrace.labelling.splits import SPLITS
from stages.label import run


def test_split_is_deterministic_complete_and_near_the_declared_shares(penguins):
    data = penguins.dropna()
    first, classes, task = run(data, "species", Split(), seed=7)
    again, _, _ = run(data, "species", Split(), seed=7)
    assert classes == ["Adelie", "Chinstrap", "Gentoo"] and task == "classification"
    assert sum(len(first[s]) for s in SPLITS) == len(data)
    for name in SPLITS:
        pd.testing.assert_frame_equal(first[name], again[name])
        assert set(first[name]["label"]) == {0, 1, 2}
    shares = [len(first[s]) / len(data) for s in SPLITS]
    assert shares == pytest.approx([0.7, 0.15, 0.15], abs=0.06)


def test_a_different_seed_gives_a_different_split(penguins):
    data = penguins.dropna()
    a, _, _ = run(data, "species", Split(), seed=1)
    b, _, _ = run(data, "species", Split(), seed=2)
    assert not a["test"].equals(b["test"])


def test_exact_and_near_duplicates_never_straddle_splits():
    base = pd.DataFrame({"y": ["a", "b"] * 30, "x": range(60), "note": [f"Item {i}, fine" for i in range(60)]})
    near = base.iloc[:20].assign(note=lambda f: "  " + f["note"].str.upper().str.replace(",", " ;"))
    data = pd.concat([base, base.iloc[:20], near], ignore_index=True)  # rows 0-19 three times, once reworded
    splits, _, _ = run(data, "y", Split(), seed=0)
    where = {x: name for name, f in splits.items() for x in f["x"]}
    for name, frame in splits.items():
        assert all(where[x] == name for x in frame["x"])  # every copy of a row sits where the first does
    assert sum(len(f) for f in splits.values()) == 100


def test_adding_and_reordering_rows_moves_no_existing_row(penguins):
    data = penguins.dropna().reset_index(drop=True)
    before, _, _ = run(data, "species", Split(), seed=3)
    grown = pd.concat([data, data.assign(bill_length_mm=data["bill_length_mm"] + 100)]).sample(frac=1, random_state=1)
    after, _, _ = run(grown, "species", Split(), seed=3)
    place = {name: set(map(tuple, f.drop(columns="label").itertuples(index=False))) for name, f in after.items()}
    for name, frame in before.items():
        assert set(map(tuple, frame.drop(columns="label").itertuples(index=False))) <= place[name]


def test_a_declared_key_decides_the_split():
    data = pd.DataFrame({"y": ["a", "b"] * 50, "x": range(100), "id": [f"r{i % 40}" for i in range(100)]})
    splits, _, _ = run(data, "y", Split(), seed=0, key=data["id"])
    sides = {name: set(f["id"]) for name, f in splits.items()}
    assert not sides["train"] & sides["val"] and not sides["train"] & sides["test"] and not sides["val"] & sides["test"]


def test_a_continuous_target_is_regression_split_across_its_range():
    data = pd.DataFrame({"y": [0.5 * i for i in range(100)], "x": range(100)})
    splits, classes, task = run(data, "y", Split(), seed=0)
    assert task == "regression" and classes == []
    assert splits["train"]["label"].dtype.kind == "f"
    for frame in splits.values():
        assert frame["label"].min() < 10 and frame["label"].max() > 40
