"""Batch prediction over files, and the server's /ready and /metrics, on the built bundle."""

import time

import httpx
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from millrace.config.params import Serve
from millrace.errors import MillraceError
from millrace.serving.app import create_app
from millrace.serving.batch_predict import run
from millrace.serving.bundle import Bundle
from tests.e2e.test_serve import PENGUIN, start
from tests.helpers.harness import sh

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def bundle(built_repo):
    return Bundle(built_repo / "models/deploy")


def _records(built_repo, n):
    test = pd.read_parquet(built_repo / "data/label/test.parquet")
    return test.drop(columns=["species", "label"]).head(n)


@pytest.mark.parametrize("suffix", ["csv", "parquet", "jsonl"])
def test_batch_prediction_streams_chunks_and_matches_the_server(built_repo, bundle, tmp_path, suffix):
    records = _records(built_repo, 40)
    source = tmp_path / f"in.{suffix}"
    {"csv": lambda p: records.to_csv(p, index=False), "parquet": records.to_parquet,
     "jsonl": lambda p: records.to_json(p, orient="records", lines=True)}[suffix](source)  # fmt: skip
    assert run(bundle, source, tmp_path / "out.parquet", chunk_rows=7) == 40
    out = pd.read_parquet(tmp_path / "out.parquet")
    assert len(out) == 40 and list(out.columns[: len(records.columns)]) == list(records.columns)
    served = bundle.predict(records.to_dict("records"))
    assert out["prediction"].tolist() == [p["class"] for p in served]
    assert out["probability_Gentoo"].tolist() == pytest.approx([p["probabilities"]["Gentoo"] for p in served])


def test_a_bad_row_is_named_by_its_place_in_the_file_and_nothing_is_written(built_repo, bundle, tmp_path):
    records = _records(built_repo, 30).reset_index(drop=True)
    records["body_mass_g"] = records["body_mass_g"].astype(object)
    records.loc[23, "body_mass_g"] = "heavy"
    source = tmp_path / "in.csv"
    records.to_csv(source, index=False)
    with pytest.raises(MillraceError, match=r"needs a number, got 'heavy' \(row 23\).*nothing was written"):
        run(bundle, source, tmp_path / "out.csv", chunk_rows=10)
    assert list(tmp_path.iterdir()) == [source]


def test_the_command_line_predicts_into_csv(built_repo, tmp_path):
    source = tmp_path / "in.parquet"
    _records(built_repo, 12).to_parquet(source)
    result = sh(built_repo, "millrace", "predict", str(source), str(tmp_path / "out.csv"), "--chunk-rows", "5")
    assert "predicted 12 rows" in result.stdout
    assert len(pd.read_csv(tmp_path / "out.csv")) == 12
    refused = sh(built_repo, "millrace", "predict", str(source), str(tmp_path / "out.xlsx"), check=False)
    assert refused.returncode == 1 and "use one of .csv, .parquet" in refused.stderr


def test_ready_is_503_until_the_model_loads_and_names_a_failed_load(bundle):
    def slow_load():
        time.sleep(0.5)
        return bundle

    with TestClient(create_app(slow_load, Serve())) as client:
        assert client.get("/health").status_code == 200
        loading = client.get("/ready")
        assert loading.status_code == 503 and loading.headers["retry-after"] == "1"
        assert client.post("/predict", json={"records": [PENGUIN]}).status_code == 503
        for _ in range(50):
            if client.get("/ready").status_code == 200:
                break
            time.sleep(0.05)
        assert client.get("/ready").json() == {"ready": True, "version": bundle.version}
        assert client.post("/predict", json={"records": [PENGUIN]}).status_code == 200

    def broken():
        raise MillraceError("model.onnx cannot be loaded: truncated")

    with TestClient(create_app(broken, Serve())) as client:
        time.sleep(0.1)
        failed = client.get("/ready")
        assert failed.status_code == 503 and "truncated" in failed.json()["detail"]


def test_metrics_count_requests_errors_latency_and_predictions(built_repo):
    process, url = start(built_repo)
    try:
        for _ in range(50):
            if httpx.get(f"{url}/ready").status_code == 200:
                break
            time.sleep(0.1)
        httpx.post(f"{url}/predict", json={"records": [PENGUIN, PENGUIN]})
        httpx.post(f"{url}/predict", json={"records": [{**PENGUIN, "body_mass_g": "heavy"}]})
        text = httpx.get(f"{url}/metrics").text
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert 'millrace_requests_total{method="POST",route="/predict",status="200"} 1.0' in text
    assert 'millrace_request_errors_total{route="/predict",status="422"} 1.0' in text
    assert 'millrace_request_seconds_bucket{le="+Inf",route="/predict"} 2.0' in text
    assert "millrace_predictions_total 2.0" in text
    assert 'millrace_model_info{version="' in text
