"""Every preset in examples/ runs end to end with the real `dvc repro`, and its bundle serves."""

import base64
import json
import runpy
import shutil

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from millrace.config.params import Serve
from millrace.inputs.images import open_image
from millrace.serving.app import Bundle, create_app
from tests.conftest import ROOT
from tests.e2e.test_targets import assert_same_predictions, predict_on_device
from tests.helpers.harness import copy_project, sh
from tests.helpers.params_reads import not_listed, stage_reads

pytestmark = pytest.mark.slow


def _jsonable(records: list[dict]) -> list[dict]:
    """Test rows as a client would send them: image bytes base64-encoded."""
    return [
        {k: base64.b64encode(v).decode() if isinstance(v, bytes) else v for k, v in record.items()}
        for record in records
    ]


# iris is tabular classification, the path the default pipeline's end-to-end tests already take; the language
# models' presets train the 135M-parameter base for minutes (make llm-demo runs them; tests/e2e/test_language_model.py
# runs the same stages on a tiny Llama). Their params are validated with every preset's in
# tests/unit/config/test_presets.py.
LANGUAGE = {"routing_sft", "python_docs_pretraining"}
PRESETS = [p for p in sorted((ROOT / "examples").glob("*.yaml")) if p.stem != "iris" and p.stem not in LANGUAGE]


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_preset_runs_end_to_end_and_serves(preset, tmp_path):
    repo = copy_project(tmp_path / "repo")
    applied = sh(repo, "millrace", "preset", f"examples/{preset.name}").stdout
    assert f"applied examples/{preset.name}" in applied and "data.source" in applied
    sh(repo, "dvc", "repro")
    metrics = json.loads((repo / "reports/evaluate/metrics.json").read_text())
    assert metrics["delivery"]["passed"] is True
    labels = json.loads((repo / "data/label/label_map.json").read_text())
    manifest = json.loads((repo / "models/deploy/manifest.json").read_text())
    assert manifest["target"] == labels["target"] and manifest["task"] == labels["task"]
    assert (repo / "reports/selection.md").read_text().startswith("# Model selection: " + manifest["family"])
    plot = "residuals.csv" if labels["task"] == "regression" else "confusion.csv"
    assert (repo / "reports/evaluate/plots" / plot).exists()
    assert metrics["baselines"]["best"]["metric"] == ("r2" if labels["task"] == "regression" else "accuracy")

    test = pd.read_parquet(repo / "data/label/test.parquet").head(8)
    features = manifest["features"]
    columns = [features.get("image_column") or features.get("text_column")]
    if columns == [None]:
        columns = features["numeric"] + list(features["categorical"])
    client = TestClient(create_app(Bundle(repo / "models/deploy"), Serve()))
    response = client.post("/predict", json={"records": _jsonable(test[columns].to_dict("records"))})
    assert response.status_code == 200, response.text
    predictions = response.json()["predictions"]
    assert len(predictions) == len(test)
    if labels["task"] == "regression":
        assert all(isinstance(p["value"], float) for p in predictions)
    else:
        served = [p["class"] for p in predictions]
        expected = [labels["classes"][i] for i in test["label"]]
        assert sum(a == b for a, b in zip(served, expected, strict=True)) >= 6  # a model that learned
    if manifest["kind"] == "image":
        the_edge_loader_agrees_on_decoded_pixels(repo, test, features["image_column"], tmp_path)
    if manifest["kind"] == "text":
        the_edge_loader_agrees_on_text(repo, test, features["text_column"], tmp_path)
    # Last: it runs every stage again in-process, rewriting the outputs the checks above read.
    if manifest["kind"] in ("image", "text"):  # code paths the default pipeline's check does not take
        reads = stage_reads(repo)
        assert "data.image.size" in reads["train"] or "data.text.max_length" in reads["train"]
        missing = not_listed(repo, reads)
        assert missing == {name: [] for name in reads}, f"read but not params deps in dvc.yaml: {missing}"


def the_edge_loader_agrees_on_decoded_pixels(repo, test, column, tmp_path):
    """An image bundle's edge loader, given pixels decoded as a device would and only numpy and onnxruntime
    importable, predicts what the bundle itself does with the same graph; a wrong shape is named."""
    edge = shutil.copytree(repo / "models/deploy/edge", tmp_path / "device")
    plan = json.loads((edge / "preprocess.json").read_text())
    mode = "L" if plan["channels"] == 1 else "RGB"
    pixels = [np.asarray(open_image(value).convert(mode)).tolist() for value in test[column]]
    on_device = predict_on_device(edge, [{column: p} for p in pixels], tmp_path)
    variant = "int8" if (edge / "model.int8.onnx").exists() else "fp32"
    bundled = Bundle(repo / "models/deploy", variant).predict(_jsonable(test[[column]].to_dict("records")))
    assert_same_predictions(on_device, bundled, tolerance=1e-5)
    model = runpy.run_path(str(edge / "predict.py"))["EdgeModel"](edge)
    with pytest.raises(ValueError, match=rf"'{column}' needs uint8 pixels of shape .*got float64"):
        model.predict([{column: np.asarray(pixels[0]) / 255.0}])  # scaled already: refused, not mispredicted


def the_edge_loader_agrees_on_text(repo, test, column, tmp_path):
    """A text bundle's edge loader tokenises by itself, with only numpy and onnxruntime importable (no
    tokenizers), and predicts what the bundle does with the same graph, hostile text included."""
    edge = shutil.copytree(repo / "models/deploy/edge", tmp_path / "device")
    assert {"tokenizer.json", "charmap.json", "predict.py"} <= {p.name for p in edge.iterdir()}
    texts = [*test[column], "ÉNORME déception!!! 😡 [MASK]\x00\u200b", "", "北京 " * 200]
    records = [{column: text} for text in texts]
    on_device = predict_on_device(edge, records, tmp_path)
    variant = "int8" if (edge / "model.int8.onnx").exists() else "fp32"
    assert_same_predictions(on_device, Bundle(repo / "models/deploy", variant).predict(records), tolerance=1e-5)
    model = runpy.run_path(str(edge / "predict.py"))["EdgeModel"](edge)
    with pytest.raises(ValueError, match=rf"'{column}' needs text, got 3"):
        model.predict([{column: 3}])
