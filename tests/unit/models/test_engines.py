"""Every engine keeps one contract for a trained model: what training saved loads back, its outputs are what its
deployed graph computes (in batches or whole), its size, saved file and importance are reported, and a model.json
naming an engine nobody registered is refused saying so."""

import json

import numpy as np
import onnxruntime
import pandas as pd
import pytest

from millrace.errors import MillraceError
from millrace.models import engines, trained_model
from millrace.models.catalogue import FAMILIES
from millrace.release.exports import ONNX
from millrace.training.dispatch import fit_selected
from tests.helpers.params import parse

RUNS = {
    "tabular_mlp": {"size": "small"},
    "linear": {"size": "small"},
    "lightgbm": {"size": "medium", "options": {"n_estimators": 20}},
}


def test_every_family_names_a_registered_engine():
    assert {family.engine for family in FAMILIES.values()} <= set(engines.ENGINES)


@pytest.mark.parametrize("family", sorted(RUNS))
def test_each_engine_loads_predicts_sizes_and_exports_what_was_trained(family, label_dir, tmp_path):
    params = parse({"data": {"target": "y", "features": ["x", "c"]}, "train": {"max_epochs": 2}})
    out, bundle = tmp_path / "model", tmp_path / "bundle"
    out.mkdir(), bundle.mkdir()
    fit_selected(label_dir, {"family": family, "strategy": "full", **RUNS[family]}, params, out, tmp_path / "live")
    trained = trained_model.load(out)
    assert trained.engine is engines.ENGINES[FAMILIES[family].engine]

    val = pd.read_parquet(label_dir / "val.parquet")
    predicted = trained_model.predict(trained, val).numpy()
    assert predicted.shape == (len(val), 2) and np.allclose(predicted.sum(axis=1), 1, atol=1e-5)
    many = pd.concat([val] * 15, ignore_index=True)  # 300 rows: more than a network's batch
    np.testing.assert_allclose(trained_model.predict(trained, many).numpy(), np.tile(predicted, (15, 1)), atol=1e-6)

    figures = trained.engine.export(trained, trained.plan.encode(val), bundle)
    assert figures["onnx_max_abs_diff"] < 1e-5 and figures["onnx_same_predictions"]
    features = trained.plan.encode(val)["features"]
    session = onnxruntime.InferenceSession(str(bundle / ONNX), providers=["CPUExecutionProvider"])
    np.testing.assert_allclose(session.run(None, {"features": features})[0], predicted, atol=1e-5)
    member = onnxruntime.InferenceSession(
        trained.graph(features.shape[1], "features").SerializeToString(), providers=["CPUExecutionProvider"]
    )
    np.testing.assert_allclose(member.run(None, {"features": features})[0], predicted, atol=1e-5)

    saved = trained_model.weights_file(out, trained.meta)
    size = trained_model.model_size(trained, out)
    assert saved.is_file() and size["saved_bytes"] == saved.stat().st_size
    assert trained_model.size_of(trained) == size["parameters"] > 0
    importance = trained.engine.importance(trained)
    if family == "tabular_mlp":
        assert importance is None and trained.gains(features.shape[1]) is None
    else:
        assert set(importance["features"]) == {"x", "c"} and abs(sum(importance["features"].values()) - 1) < 1e-3


def test_a_model_json_naming_an_unknown_engine_is_refused(label_dir, tmp_path):
    params = parse({"data": {"target": "y", "features": ["x", "c"]}})
    out = tmp_path / "model"
    out.mkdir()
    fit_selected(label_dir, {"family": "linear", "strategy": "full", "size": "small"}, params, out, tmp_path / "live")
    meta = json.loads((out / "model.json").read_text())
    (out / "model.json").write_text(json.dumps(meta | {"engine": "quantum"}))
    with pytest.raises(MillraceError, match="engine 'quantum', which is not one of"):
        trained_model.load(out)
