"""Bad data is stopped by its gate: non-zero exit, a message naming what failed, nothing downstream."""

import hashlib
import json

import pandas as pd
import pytest

from tests.helpers.harness import set_param, sh
from tests.reliability.invariants import assert_invariants

pytestmark = pytest.mark.slow

DOWNSTREAM = [
    "data/clean/clean.parquet",
    "data/label/train.parquet",
    "models/train/model.safetensors",
    "reports/evaluate/metrics.json",
    "models/deploy/manifest.json",
]


def fingerprint(repo):
    return {p: hashlib.sha256((repo / p).read_bytes()).hexdigest() for p in DOWNSTREAM}


def use_csv(repo, frame):
    frame.to_csv(repo / "data/inputs/penguins.csv", index=False)
    set_param(repo, r"^    kind: builtin.*$", "    kind: file\n    path: data/inputs/penguins.csv")
    set_param(repo, r"^    name: penguins.*$", "")


def test_raw_gate_stops_corrupt_data_and_names_every_fault(workspace):
    before = fingerprint(workspace)
    frame = pd.read_parquet(workspace / "data/acquire/raw.parquet")
    frame.loc[frame.index[:15], "species"] = None
    frame.loc[frame.index[20:24], "island"] = "Atlantis"
    del frame["flipper_length_mm"]
    use_csv(workspace, frame)
    result = sh(workspace, "dvc", "repro", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "gate 'raw' failed" in output
    expected = [
        "expect_column_values_to_not_be_null on 'species'",
        "15 unexpected",
        "expect_column_values_to_be_in_set on 'island'",
        "Atlantis",
        "expect_column_to_exist on 'flipper_length_mm'",
        "expect_table_columns_to_match_set",
    ]
    assert [text for text in expected if text not in output] == []
    assert "Traceback" not in output
    assert "Running stage 'clean'" not in output
    assert fingerprint(workspace) == before
    report = json.loads((workspace / "reports/gates/raw.json").read_text())
    assert report["success"] is False and report["failed"] >= 4
    assert_invariants(workspace, failed="acquire")


def test_the_same_csv_uncorrupted_passes_the_raw_gate(workspace):
    use_csv(workspace, pd.read_parquet(workspace / "data/acquire/raw.parquet"))
    sh(workspace, "dvc", "repro", "acquire")
    assert json.loads((workspace / "reports/gates/raw.json").read_text())["success"] is True


def test_labels_gate_stops_a_too_rare_class(workspace):
    before = fingerprint(workspace)
    downstream = [p for p in DOWNSTREAM if not p.startswith(("data/clean", "data/label"))]
    set_param(workspace, r"^    min_class_share: .*$", "    min_class_share: 0.3")
    result = sh(workspace, "dvc", "repro", check=False)
    output = result.stdout + result.stderr
    assert result.returncode != 0
    assert "gate 'labels' failed" in output and "Chinstrap" in output
    assert "set by gates.labels.min_class_share: 0.3" in output  # what to change, named
    assert "Running stage 'select'" not in output
    assert all((workspace / p).exists() for p in downstream)
    # DVC removes the failed stage's own previous output before running it; it is restorable.
    assert_invariants(workspace, failed="label")  # what DVC removed is restorable from its cache
    sh(workspace, "dvc", "checkout", "label")
    assert fingerprint(workspace) == before
