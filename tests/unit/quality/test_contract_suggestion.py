"""A suggested contract passes the data it came from and fails drift from it, naming each cause."""

import json
import shutil

import numpy as np
import pandas as pd
import pytest

from millrace.cli import main as cli
from millrace.quality.contract_suggestion import suggest
from millrace.quality.gates import Check, GateFailed, load_suite, run_gate
from tests.conftest import ROOT


@pytest.fixture
def gx_dir(tmp_path):
    return shutil.copytree(ROOT / "gx", tmp_path / "gx", ignore=shutil.ignore_patterns("uncommitted"))


def gate(frame, suite, gx_dir, tmp_path):
    return run_gate("raw", [Check("table", frame, suite["expectations"])], gx_dir=gx_dir, reports_dir=tmp_path / "r")


def test_the_suggestion_describes_the_reference_and_passes_it(penguins, gx_dir, tmp_path):
    suite = suggest(penguins, "raw_contract", "penguins")
    kinds = {(e["type"], e["kwargs"].get("column")) for e in suite["expectations"]}
    assert ("expect_column_values_to_be_in_set", "island") in kinds
    assert ("expect_column_values_to_be_between", "body_mass_g") in kinds
    sex_nulls = next(e for e in suite["expectations"] if e["kwargs"].get("column") == "sex" and "null" in e["type"])
    assert 0.9 < sex_nulls["kwargs"]["mostly"] < 0.97  # 11 of 344 missing, plus the margin
    assert gate(penguins, suite, gx_dir, tmp_path)["success"]


def test_drift_from_the_contract_fails_the_gate_naming_each_cause(penguins, gx_dir, tmp_path):
    suite = suggest(penguins, "raw_contract", "penguins")
    drifted = penguins.copy()
    drifted.loc[0, "island"] = "Atlantis"  # a new category
    drifted.loc[1, "body_mass_g"] = 60_000.0  # far outside the range
    drifted.loc[drifted.index[:100], "sex"] = np.nan  # a null rate far above the reference's
    drifted = drifted.drop(columns="year").assign(colour="red")  # a column gone, one new
    with pytest.raises(GateFailed) as err:
        gate(drifted, suite, gx_dir, tmp_path)
    message = str(err.value)
    for cause in ("'Atlantis'", "on 'body_mass_g'", "expect_column_values_to_not_be_null on 'sex'", "colour"):
        assert cause in message


def test_the_command_writes_a_suite_and_never_overwrites_one(tmp_path, monkeypatch, penguins, capsys):
    monkeypatch.chdir(tmp_path)
    shutil.copy(ROOT / "params.yaml", "params.yaml")
    (tmp_path / "data/acquire").mkdir(parents=True)
    penguins.to_parquet("data/acquire/raw.parquet")
    cli(["suggest-expectations", "--suite", "mine"])
    written = json.loads((tmp_path / "gx/expectations/mine.json").read_text())
    assert written["name"] == "mine" and len(load_suite(tmp_path / "gx", "mine")) == len(written["expectations"])
    assert "gates.raw.suite: mine" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        cli(["suggest-expectations", "--suite", "mine"])
    assert "exists; choose another --suite or pass --force" in capsys.readouterr().err
    cli(["suggest-expectations", "--suite", "mine", "--force", "--input", "data/acquire/raw.parquet"])


def test_image_bytes_get_existence_and_nulls_only():
    frame = pd.DataFrame({"image": [b"\x89PNG...", b"\x89PNG..."], "y": ["a", "b"]})
    types = [e["type"] for e in suggest(frame, "s", "x")["expectations"] if e["kwargs"].get("column") == "image"]
    assert types == ["expect_column_values_to_be_of_type", "expect_column_values_to_not_be_null"]
