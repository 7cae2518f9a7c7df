"""evaluate on a model trained on a tiny table: the report, the plots, the headline figures and the decision."""

import pandas as pd

from millrace.config.params import Evaluate
from millrace.models import trained_model
from stages.evaluate import headline, run
from stages.train import run as train
from tests.helpers.params import parse


def test_a_trained_model_is_scored_plotted_and_judged(label_dir, tmp_path):
    params = parse({"data": {"target": "y", "features": ["x", "c"]}, "train": {"max_epochs": 3}})
    train(label_dir, {"family": "tabular_mlp"}, params, tmp_path / "model", tmp_path / "live", tmp_path / "ckpt")
    model = trained_model.load(tmp_path / "model")
    test, fit = pd.read_parquet(label_dir / "val.parquet"), pd.read_parquet(label_dir / "train.parquet")

    report, plots, page = run(model, test, Evaluate(thresholds={"accuracy": 0.8}, bootstrap=20), fit, seed=0)
    assert 0.8 <= report["test"]["accuracy"] <= 1 and report["delivery"]["passed"] is True
    assert set(plots) == {"confusion.csv", "roc.csv", "precision_recall.csv", "calibration.csv"}
    assert len(plots["confusion.csv"]) == len(test) and page is not None and "Review" in page
    assert report["baselines"]["best"]["metric"] == "accuracy"
    assert headline(report) == {
        "test": {"accuracy": report["test"]["accuracy"], "f1_macro": report["test"]["f1_macro"]},
        "standard_met": True,
        "baseline": {"accuracy": report["baselines"]["best"]["value"]},
    }

    strict, _, _ = run(model, test, Evaluate(thresholds={"accuracy": 1.01}, baselines=False), fit, seed=0)
    assert strict["delivery"]["passed"] is False and "baselines" not in strict
    assert "test/accuracy" in strict["delivery"]["reasons"][0] and "< 1.01" in strict["delivery"]["reasons"][0]
