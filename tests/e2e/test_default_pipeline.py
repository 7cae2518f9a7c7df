"""The pipeline as a fresh clone runs it (`make run`'s `dvc repro`, params.yaml untouched): on penguins the
default portfolio judges every table family by cross-validation, deploys a model at least as good on the held-out
rows as the best scikit-learn baseline (within one standard error), reports the baselines' test scores beside the
model's, and `millrace summary` shows the leaderboard."""

import json

import pytest

from tests.helpers.harness import copy_project, sh

pytestmark = pytest.mark.slow

TABLE_FAMILIES = {"linear", "lightgbm", "xgboost", "catboost", "tabular_mlp"}


def test_the_default_portfolio_deploys_a_cross_validated_winner_that_matches_the_baselines(tmp_path):
    repo = copy_project(tmp_path / "repo")
    output = sh(repo, "dvc", "repro").stdout
    assert "judged by 5-fold cross-validation" in output

    selection = json.loads((repo / "models/selection.json").read_text())
    judged = {e["candidate"].split("#")[0] for e in selection["leaderboard"] if "#" in e["candidate"]}
    assert judged == TABLE_FAMILIES  # every family had its turn within the default budget
    assert any(e["candidate"] == "ensemble" for e in selection["leaderboard"])  # model.ensemble: 3 by default
    held_out = selection["held_out"]
    assert held_out["score"] >= held_out["baseline"]["score"] - held_out["error"]

    manifest = json.loads((repo / "models/deploy/manifest.json").read_text())
    assert manifest["family"] == selection["family"] and manifest["parity"]["onnx_same_predictions"]
    report = json.loads((repo / "reports/evaluate/metrics.json").read_text())
    assert set(report["baselines"]["models"]) == {"logistic_regression", "hist_gradient_boosting"}
    assert report["model"]["family"] == selection["family"] and report["test"]["accuracy"] >= 0.95

    summary = sh(repo, "millrace", "summary").stdout
    assert "Portfolio: held-out accuracy" in summary and "baseline" in summary
