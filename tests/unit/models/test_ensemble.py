"""A weighted ensemble trained through the train stage's own path: every member a train folder of its own, the
ensemble's outputs the weighted average of theirs, its one ONNX graph (a network member's included) giving the
same, and its size and importance made of the members'."""

import json

import numpy as np
import onnxruntime

from millrace.models import trained_model
from millrace.models.ensemble import EnsembleModel
from millrace.release.exports import output_name
from millrace.training.dispatch import fit_selected
from tests.helpers.params import parse

MEMBERS = [
    {"family": "linear", "strategy": "full", "size": "small", "weight": 0.25},
    {"family": "lightgbm", "strategy": "full", "size": "medium", "options": {"n_estimators": 20}, "weight": 0.5},
    {"family": "tabular_mlp", "strategy": "full", "size": "small", "weight": 0.25},
]


def test_an_ensemble_trains_its_members_and_serves_their_weighted_average(label_dir, tmp_path):
    params = parse({"data": {"target": "y", "features": ["x", "c"]}, "train": {"max_epochs": 3}})
    out = tmp_path / "model"
    out.mkdir()
    selection = {"family": "ensemble", "strategy": "ensemble", "size": "3 members", "members": MEMBERS}
    meta = fit_selected(label_dir, selection, params, out, tmp_path / "live", tmp_path / "checkpoints")
    assert meta["engine"] == "ensemble" and meta["model"]["members"] == ["linear", "lightgbm", "tabular_mlp"]
    assert (tmp_path / "live" / "plots" / "metrics" / "val" / "loss.tsv").exists()  # the first member's curves
    recorded = json.loads((out / "ensemble.json").read_text())
    assert recorded["weights"] == [0.25, 0.5, 0.25] and [m["file"] for m in recorded["members"]] == [
        "model.linear.json",
        "model.lightgbm.txt",
        "model.safetensors",
    ]

    trained = trained_model.load(out)
    assert isinstance(trained.backbone, EnsembleModel)
    members = [trained_model.load(out / "members" / str(i)) for i in range(3)]
    val = __import__("pandas").read_parquet(label_dir / "val.parquet")
    expected = sum(m["weight"] * trained_model.predict(t, val).numpy() for m, t in zip(MEMBERS, members, strict=True))
    got = trained_model.predict(trained, val).numpy()
    np.testing.assert_allclose(got, expected, atol=1e-6)
    assert np.allclose(got.sum(axis=1), 1, atol=1e-5)
    assert meta["nodes"] == sum(trained_model.size_of(t) for t in members)
    size = trained_model.model_size(trained, out)
    assert size["saved_bytes"] > (out / "members/2/model.safetensors").stat().st_size

    features = trained.plan.encode(val)["features"]
    graph = trained.backbone.to_onnx(features.shape[1], "features", output_name("classification"))
    session = onnxruntime.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == ["probabilities"]
    np.testing.assert_allclose(session.run(None, {"features": features})[0], got, atol=1e-5)

    gains = trained.backbone.gains(features.shape[1])
    assert gains.shape == (features.shape[1],) and abs(gains.sum() - 0.75) < 1e-6  # the network's quarter has none
