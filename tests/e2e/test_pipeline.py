"""The whole pipeline through the real `dvc repro`, and DVC rerunning exactly what changed."""

import json

import pandas as pd
import pytest
import yaml

from tests.helpers.harness import set_param, sh, stages_run

pytestmark = pytest.mark.slow

STAGES = ["acquire", "clean", "label", "select", "train", "evaluate", "deploy"]


def read(repo, path):
    return json.loads((repo / path).read_text())


def test_full_run_produces_every_artefact(built_repo):
    lock = yaml.safe_load((built_repo / "dvc.lock").read_text())
    assert list(lock["stages"]) == STAGES
    for gate in ("raw", "clean", "labels"):
        assert read(built_repo, f"reports/gates/{gate}.json")["success"] is True
    assert read(built_repo, "data/acquire/profile.json")["nulls"]["sex"] == 11
    assert read(built_repo, "reports/clean.json")["missing"]["imputed"]["sex"]["cells"] == 11
    assert read(built_repo, "models/selection.json")["family"] == "tabular_mlp"
    metrics = read(built_repo, "reports/evaluate/metrics.json")
    assert metrics["test"]["accuracy"] >= 0.9 and metrics["delivery"]["passed"] is True
    interval = metrics["confidence_intervals"]["accuracy"]
    assert interval["low"] <= metrics["test"]["accuracy"] <= interval["high"]
    assert set(metrics["slices"]["columns"]) == {"island", "sex"}
    assert metrics["test"]["worst_slice_accuracy"] <= metrics["test"]["accuracy"]
    assert set(metrics["baselines"]["models"]) == {"logistic_regression", "hist_gradient_boosting"}
    for plot in ("confusion.csv", "roc.csv", "precision_recall.csv", "calibration.csv"):
        assert (built_repo / "reports/evaluate/plots" / plot).exists()
    manifest = read(built_repo, "models/deploy/manifest.json")
    assert manifest["parity"]["onnx_max_abs_diff"] < 1e-4 and manifest["parity"]["onnx_same_predictions"]
    assert manifest["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert len(manifest["data_sha256"]) == 64 and manifest["params"]["train"]["lr"] == 0.01
    assert manifest["version"].startswith(manifest["weights_sha256"][:8])  # then the bundle's content hash
    int8, fp32 = manifest["variants"]["int8"], manifest["variants"]["fp32"]
    assert int8["bytes"] < fp32["bytes"] / 2 and int8["metric"] >= fp32["metric"] - 0.01
    assert (built_repo / "models/deploy/model.int8.onnx").exists() and "| int8 |" in (
        built_repo / "models/deploy/MODEL_CARD.md"
    ).read_text()
    assert (built_repo / "reports/train/plots/metrics/val/loss.tsv").exists()
    assert (built_repo / "gx/uncommitted/data_docs/local_site/index.html").exists()


def test_noop_repro_reruns_nothing(workspace):
    assert stages_run(sh(workspace, "dvc", "repro").stdout) == []


def test_changing_lr_reruns_select_train_evaluate_and_deploy_only(workspace):
    set_param(workspace, r"^  lr: .*$", "  lr: 0.02")
    selection = (workspace / "models/selection.json").read_bytes()
    # select reads train.* (a portfolio's candidates train as the train stage does); here it chooses the same
    assert stages_run(sh(workspace, "dvc", "repro").stdout) == ["select", "train", "evaluate", "deploy"]
    assert (workspace / "models/selection.json").read_bytes() == selection
    assert read(workspace, "models/deploy/manifest.json")["params"]["train"]["lr"] == 0.02


def test_changing_a_clean_param_reruns_from_clean(workspace):
    # A dry run says what DVC would run first; that the change then flows downstream is DVC's job
    # (and the lr test above sees it through train, evaluate and deploy for real).
    set_param(workspace, r"^    numeric: median", "    numeric: mean")
    # The imputation is the model's now: train (and label's review encodings, deploy's manifest) read it too.
    assert stages_run(sh(workspace, "dvc", "repro", "--dry").stdout) == ["clean", "label", "select", "train", "deploy"]


def test_summary_prints_gates_metrics_and_paths(built_repo):
    out = sh(built_repo, "python", "-m", "millrace.ops.summary").stdout
    for text in ("Gates", "labels", "test/accuracy", "meets", "models/deploy", "reports/evaluate/metrics.json"):
        assert text in out


def test_wrong_param_stops_the_stage_with_a_clear_message(workspace):
    set_param(workspace, r"^    method: iqr", "    method: quantile")
    result = sh(workspace, "dvc", "repro", check=False)
    assert result.returncode != 0
    assert "clean.outliers.method" in result.stderr + result.stdout
    assert "Traceback" not in result.stderr + result.stdout


def test_a_reviewers_wrong_verdict_is_folded_in_and_can_stop_the_deploy(workspace):
    import re

    page = (workspace / "reports/review.html").read_text()
    shown = re.findall(r'data-id="([0-9a-f]{16})" data-predicted="([^"]+)"', page)
    assert len(shown) == read(workspace, "reports/evaluate/metrics.json")["review"]["samples"] > 0
    sample, predicted = shown[0]
    with (workspace / "reports/review_verdicts.csv").open("a") as verdicts:  # what the page's download holds
        verdicts.write(f'"{sample}","{predicted}","wrong","not convinced","ana"\n')
    set_param(workspace, r"max_wrong: null", "max_wrong: 0")
    result = sh(workspace, "dvc", "repro", check=False)
    assert result.returncode != 0 and stages_run(result.stdout) == ["evaluate", "deploy"]
    assert "reviewers marked 1 predictions wrong > 0" in result.stderr
    review = read(workspace, "reports/evaluate/metrics.json")["review"]
    assert review["wrong"] == 1 and review["wrong_samples"][0]["note"] == "not convinced"
    assert 'value="wrong" checked' in (workspace / "reports/review.html").read_text()


def test_a_variant_that_loses_too_much_is_refused_and_cannot_be_served(workspace):
    from millrace.errors import MillraceError
    from millrace.serving.bundle import Bundle

    set_param(workspace, r"^  variants: .*$", "  variants: [int8, pruned]")
    set_param(workspace, r"^  prune_amount: .*$", "  prune_amount: 0.97")  # almost every weight zeroed
    assert stages_run(sh(workspace, "dvc", "repro").stdout) == ["deploy"]
    variants = read(workspace, "models/deploy/manifest.json")["variants"]
    assert "below fp32's" in variants["pruned"]["refused"] and "refused" not in variants["int8"]
    assert not (workspace / "models/deploy/model.pruned.onnx").exists()
    assert (
        Bundle(workspace / "models/deploy", "int8")
        .predict_frame(pd.read_parquet(workspace / "data/label/test.parquet"))["prediction"]
        .notna()
        .all()
    )
    with pytest.raises(MillraceError, match="no pruned variant: metric .* below fp32's"):
        Bundle(workspace / "models/deploy", "pruned")
