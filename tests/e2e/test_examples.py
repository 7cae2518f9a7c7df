"""Every preset in examples/ runs end to end with the real `dvc repro`, and its bundle serves."""

import base64
import json
import shutil

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from stages.params import Serve
from stages.serve import Bundle, create_app
from tests.conftest import ROOT
from tests.harness import copy_project, sh

pytestmark = pytest.mark.slow


def _jsonable(records: list[dict]) -> list[dict]:
    """Test rows as a client would send them: image bytes base64-encoded."""
    return [
        {k: base64.b64encode(v).decode() if isinstance(v, bytes) else v for k, v in record.items()}
        for record in records
    ]


# iris is tabular classification, the path the default pipeline's end-to-end tests already take;
# its params are validated with every preset's in tests/unit/test_examples.py.
PRESETS = [p for p in sorted((ROOT / "examples").glob("*.yaml")) if p.stem != "iris"]


@pytest.mark.parametrize("preset", PRESETS, ids=lambda p: p.stem)
def test_preset_runs_end_to_end_and_serves(preset, tmp_path):
    repo = copy_project(tmp_path / "repo")
    shutil.copy(preset, repo / "params.yaml")
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
