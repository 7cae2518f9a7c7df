"""Data that is wrong as a whole: the right gate fails, with a message that names the cause."""

from __future__ import annotations

import re
import shutil

import numpy as np
import pandas as pd
import pytest

from millrace.quality.gates import GateFailed, run_gate
from stages import clean, label
from stages.acquire import raw_checks
from tests.conftest import ROOT
from tests.helpers.params import parse

PARAMS = parse({"data": {"features": None}, "gates": {"clean": {"min_rows": 5}}})


@pytest.fixture
def gate(tmp_path):
    gx_dir = shutil.copytree(ROOT / "gx", tmp_path / "gx", ignore=shutil.ignore_patterns("uncommitted"))

    def run(name, checks) -> None:
        run_gate(name, checks, gx_dir=gx_dir, reports_dir=tmp_path / "reports")

    return run


def cleaned_through_the_gate(gate, raw: pd.DataFrame) -> None:
    frame, _, quarantine = clean.run(raw, "species", PARAMS.clean)
    removed = clean.removed_by_step(quarantine, len(raw))
    gate("clean", clean.clean_checks(frame, "species", PARAMS.gates.clean, [], removed))


def test_a_header_only_file_fails_the_raw_gate_on_its_row_count(gate, tmp_path, penguins):
    with pytest.raises(GateFailed, match="expect_table_row_count_to_be_between .*observed 0"):
        gate("raw", raw_checks(penguins.head(0), PARAMS.data, []))


def test_an_all_null_or_constant_column_is_left_out_and_named_before_training(gate, penguins):
    from stages.acquire import excluded_columns

    raw = penguins.dropna().assign(bill_depth_mm=np.nan, site="Palmer")
    said = excluded_columns(raw, PARAMS.data)
    assert "bill_depth_mm (empty: every value is missing)" in said and "site (constant" in said
    cleaned_through_the_gate(gate, raw)  # nothing for clean to refuse: the model does not read them


def test_thirty_percent_duplicates_fail_the_clean_gate_naming_the_step(gate, penguins):
    base = penguins.dropna().head(200)
    raw = pd.concat([base, base.head(86)], ignore_index=True)  # 86 of 286 rows repeat: 30%
    with pytest.raises(GateFailed, match=r"\[removed_by_step\].*'share': 0.3007, 'step': 'duplicates'"):
        cleaned_through_the_gate(gate, raw)
    cleaned_through_the_gate(gate, pd.concat([base, base.head(20)], ignore_index=True))  # 9%: passes


def test_a_flood_of_one_label_fails_the_labels_gate_naming_the_class(gate):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=400), "y": ["common"] * 380 + ["rare"] * 20})  # 95% one label
    splits, classes, task = label.run(frame, "y", PARAMS.label.split, seed=0)
    with pytest.raises(GateFailed, match=r"\[class_share\].*'share': 0.0\d+, 'split': 'train', 'class': 'rare'"):
        gate("labels", label.labels_checks(splits, classes, 0.1, task))


@pytest.mark.parametrize("task", ["classification", "regression"])
def test_test_rows_that_repeat_training_rows_fail_the_labels_gate_naming_the_leak(gate, penguins, task):
    frame = penguins.dropna()
    target = "species" if task == "classification" else "body_mass_g"
    splits, classes, task = label.run(frame, target, PARAMS.label.split, seed=0, task=task)
    gate("labels", label.labels_checks(splits, classes, 0.1, task))  # the split itself never leaks
    leaked = {**splits, "test": pd.concat([splits["test"], splits["train"].head(7)], ignore_index=True)}
    with pytest.raises(GateFailed, match=r"\[train_test_leakage\].*'rows_also_in_train': 7.*'split': 'test'"):
        gate("labels", label.labels_checks(leaked, classes, 0.1, task, target))


def test_near_duplicates_across_splits_fail_the_labels_gate_naming_pairs(gate):
    texts = [f"review number {i}: the film was {'good' if i % 2 else 'bad'}" for i in range(120)]
    frame = pd.DataFrame({"id": [f"r{i}" for i in range(120)], "text": texts, "y": ["pos", "neg"] * 60})
    frame["text"] = frame["text"].astype("str")
    splits, classes, task = label.run(frame.drop(columns="id"), "y", PARAMS.label.split, seed=0)
    gate("labels", label.labels_checks(splits, classes, 0.1, task, "y"))  # distinct texts: no leak
    reworded = splits["train"].head(3).assign(text=lambda f: f["text"].str.upper().str.replace(":", " -") + "!")
    leaked = {**splits, "val": pd.concat([splits["val"], reworded], ignore_index=True)}
    with pytest.raises(GateFailed) as failed:
        gate("labels", label.labels_checks(leaked, classes, 0.1, task, "y"))
    message = str(failed.value)
    assert "'near_duplicates_of_train': 3" in message and "on 'rows_also_in_train'" not in message  # not exact
    assert "[near_duplicate_pairs]" in message and "'train_row'" in message


def test_a_balanced_ten_class_dataset_passes_the_default_labels_gate(gate):
    rng = np.random.default_rng(0)
    frame = pd.DataFrame({"x": rng.normal(size=2000), "y": [f"class {i % 10}" for i in range(2000)]})
    splits, classes, task = label.run(frame, "y", PARAMS.label.split, seed=0)
    assert PARAMS.gates.labels.min_class_share == "auto"  # 1 / (4 × 10) = 0.025, not 3 classes' bound
    gate("labels", label.labels_checks(splits, classes, PARAMS.gates.labels.min_class_share, task, "y"))


@pytest.mark.parametrize(
    ("gate_name", "says"),
    [
        ("clean", "set by gates.clean.min_rows: 5000"),
        ("labels", "set by gates.labels.min_class_share: auto (1 / (4 × 2 classes) = 0.125)"),
        ("raw", "set by data.target"),
    ],
)
def test_a_gate_failure_names_the_params_key_that_sets_the_bound(gate, penguins, gate_name, says):
    if gate_name == "clean":
        checks = clean.clean_checks(
            penguins, "species", parse({"gates": {"clean": {"min_rows": 5000}}}).gates.clean, []
        )
    elif gate_name == "labels":
        frame = pd.DataFrame({"x": range(400), "y": ["common"] * 380 + ["rare"] * 20})
        splits, classes, task = label.run(frame, "y", PARAMS.label.split, seed=0)
        checks = label.labels_checks(splits, classes, "auto", task, "y")
    else:
        checks = raw_checks(penguins.drop(columns="species"), PARAMS.data, [])
    with pytest.raises(GateFailed, match=re.escape(says)):
        gate(gate_name, checks)


def test_params_naming_absent_columns_are_refused_by_the_raw_gate_all_at_once(gate, penguins):
    from millrace.quality.column_params import columns_line

    stale = parse(
        {
            "data": {"features": None},
            "evaluate": {"slices": ["island", "region"]},
            "clean": {"filters": {"age": {"min": 0}}, "duplicate_key": ["customer_id"]},
            "label": {"key": "row_id"},
        }
    )
    table = penguins.drop(columns="island")
    with pytest.raises(GateFailed) as failed:
        gate("raw", raw_checks(table, stale.data, [], stale))
    message = str(failed.value)
    for column, key in [("island", "evaluate.slices"), ("region", "evaluate.slices"), ("age", "clean.filters.age"),
                        ("customer_id", "clean.duplicate_key"), ("row_id", "label.key")]:  # fmt: skip
        assert f"expect_column_to_exist on '{column}'" in message and f"set by {key}" in message, column
    assert "'species'" in columns_line(table, stale) and "'bill_length_mm'" in columns_line(table, stale)
    assert columns_line(penguins, parse({})) is None
