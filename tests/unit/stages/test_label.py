"""label: label sources (column, annotations, rules), the split, and the labels gate."""

from __future__ import annotations

import pandas as pd
import pytest

from millrace.config.params import Split
from millrace.errors import MillraceError
from stages.label import SPLITS, assign_labels, row_ids, run, task_of
from tests.helpers.params import parse


def label_params(**label):
    return parse({"label": label}).label


MAIL = pd.DataFrame(
    {
        "text": [
            "refund my invoice please",  # billing rule
            "the parcel never arrived",  # delivery rule
            "invoice for the parcel",  # both rules: a conflict, a tie under majority
            "hello there",  # no rule
            "where is my parcel",  # delivery rule, but a human says billing
        ],
        "topic": [None, None, None, None, "billing"],
    }
)
RULES = [
    {"name": "billing_words", "label": "billing", "keywords": ["invoice", "refund"]},
    {"name": "delivery_words", "label": "delivery", "regex": r"\bparcel|arriv", "weight": 2},
]


def test_annotations_win_over_column_and_rules_and_annotators_are_compared(tmp_path):
    ids = row_ids(MAIL, "topic", None)
    rows = [
        (ids[0], "delivery", "ana"),  # overrides the billing rule's vote
        (ids[0], "delivery", "bo"),
        (ids[3], "support", "ana"),  # labels a row no rule covered
        (ids[3], "billing", "bo"),  # … but the annotators tie: left to other sources
        (ids[4], "delivery", "ana"),  # overrides the column
        (ids[4], "delivery", "bo"),
        ("not-a-row", "billing", "ana"),
    ]
    path = tmp_path / "labels.csv"
    pd.DataFrame(rows, columns=["row_id", "label", "who"]).to_csv(path, index=False)
    spec = {"path": str(path), "annotator_column": "who"}
    frame, source, _, report = assign_labels(MAIL, "topic", label_params(annotations=[spec], rules=RULES), "text")
    assert frame["topic"].fillna("-").tolist() == ["delivery", "delivery", "-", "-", "delivery"]
    assert source.tolist() == ["annotation", "rule", None, None, "annotation"]
    found = report["annotations"]
    assert found["matched"] == 2 and found["overrode_column"] == 1 and found["annotator_ties"] == 1
    assert found["unmatched_keys"] == 1
    assert found["agreement"]["pairs"]["ana vs bo"]["rows"] == 3


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


@pytest.mark.parametrize(
    ("values", "declared", "task"),
    [
        (["a", "b"] * 10, "auto", "classification"),
        ([0, 1] * 10, "auto", "classification"),
        (list(range(30)), "auto", "regression"),
        ([0.5, 1.0] * 10, "auto", "regression"),
        (list(range(30)), "classification", "classification"),
        ([0, 1] * 10, "regression", "regression"),
    ],
)
def test_task_follows_params_or_the_target(values, declared, task):
    assert task_of(pd.Series(values, name="y"), declared) == task


def test_regression_on_text_is_refused():
    with pytest.raises(MillraceError, match="not numeric"):
        task_of(pd.Series(["a", "b"], name="y"), "regression")


def test_too_few_rows_per_class_is_explained():
    data = pd.DataFrame({"y": ["a"] * 20 + ["b"], "x": range(21)})
    with pytest.raises(MillraceError, match="cannot split stratified"):
        run(data, "y", Split(), seed=0)
