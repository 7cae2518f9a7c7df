"""What is deployed is what was trained, on a messy table as a user brings it (penguins written to a CSV with
an id, a row number, a constant and an empty column, stray spaces and missing values):

- identifiers, constants and empty columns are left out and named before anything trains;
- every test row, taken raw from `raw.parquet` as acquired, gets evaluate's class and probabilities from the
  real server, from batch prediction and from the edge loader;
- missing values, stray spaces and unseen categories are served (200) and counted in /metrics and the log;
- shuffling the test split's labels changes no choice: selection, early stopping, the validation metrics that
  rank experiments, the champion decision and the variant gate.
"""

import importlib.util
import json
import shutil

import httpx
import numpy as np
import pandas as pd
import pytest

from millrace.models.trained_model import weights_file
from millrace.serving.batch_predict import run as batch_predict
from millrace.serving.bundle import Bundle
from tests.e2e.test_serve import start
from tests.helpers.harness import commit_all, copy_project, sh

pytestmark = pytest.mark.slow

PRESET = """
data:
  source: {kind: file, path: data/inputs/penguins_messy.csv}
  target: species
  features: null
gates:
  raw: {suite: null}
  clean: {suite: null}
evaluate:
  thresholds: {}
  slices: [sex]
  review: {per_class: 0}
deploy:
  variants: [pruned]
  targets: [local, edge]
train: {max_epochs: 25}
"""
EXCLUDED = {"penguin_id": "identifier", "row_number": "identifier", "colony": "constant", "notes": "empty"}


def messy_penguins(penguins: pd.DataFrame) -> pd.DataFrame:
    frame = penguins.reset_index(drop=True)
    n = len(frame)
    frame.insert(0, "penguin_id", [f"P-{i:04d}" for i in range(n)])
    frame.insert(1, "row_number", np.arange(1, n + 1))
    frame["colony"] = "Antarctica"
    frame["notes"] = np.nan
    island = frame["island"].astype(object)
    island[::5] = " " + island[::5] + " "  # a stray space in every fifth row
    frame["island"] = island
    frame.loc[3::9, "sex"] = np.nan  # missing values beyond penguins' own
    frame.loc[5::11, "body_mass_g"] = np.nan
    return frame


@pytest.fixture(scope="module")
def messy_repo(tmp_path_factory):
    from millrace.sources.builtin import load_builtin

    repo = copy_project(tmp_path_factory.mktemp("messy") / "repo")
    messy_penguins(load_builtin("penguins")).to_csv(repo / "data/inputs/penguins_messy.csv", index=False)
    (repo / "messy.yaml").write_text(PRESET)
    commit_all(repo, "a messy table")
    sh(repo, "millrace", "preset", "messy.yaml")
    commit_all(repo, "its params")
    result = sh(repo, "dvc", "repro")
    return repo, result.stdout


def test_identifiers_constants_and_empty_columns_are_named_before_training(messy_repo):
    repo, output = messy_repo
    said = next(line for line in output.splitlines() if "not used as features" in line)
    assert output.index(said) < output.index("Running stage 'train'")
    for column, role in EXCLUDED.items():
        assert f"{column} ({role}" in said
    profile = json.loads((repo / "data/acquire/profile.json").read_text())
    assert {c: profile["roles"][c]["role"] for c in EXCLUDED} == EXCLUDED
    manifest = json.loads((repo / "models/deploy/manifest.json").read_text())
    assert set(manifest["features"]["excluded"]) == set(EXCLUDED)
    assert not set(EXCLUDED) & {f["name"] for f in manifest["signature"]}


def _edge_model(bundle_dir):
    spec = importlib.util.spec_from_file_location("edge_predict_under_test", bundle_dir / "edge" / "predict.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module.EdgeModel(bundle_dir / "edge")


def _json_records(frame: pd.DataFrame) -> list[dict]:
    return json.loads(frame.to_json(orient="records"))  # NaN → null, numpy → JSON, as a client sends them


def test_raw_test_rows_get_evaluates_answer_from_server_batch_and_edge(messy_repo, tmp_path):
    from millrace.models import trained_model

    repo, _ = messy_repo
    raw = pd.read_parquet(repo / "data/acquire/raw.parquet")
    test = pd.read_parquet(repo / "data/label/test.parquet")
    rows = raw.set_index("penguin_id").loc[test["penguin_id"]].reset_index()
    assert rows["island"].str.startswith(" ").any() and rows["sex"].isna().any()  # the mess reaches the test
    assert rows["body_mass_g"].isna().any()
    trained = trained_model.load(repo / "models/train")
    expected = trained_model.predict(trained, test).numpy()
    classes = trained.classes
    tolerance = 1e-4  # deploy.parity_tolerance
    records = _json_records(rows)

    process, url = start(repo)
    try:
        answer = httpx.post(f"{url}/predict", json={"records": records}, timeout=30)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert answer.status_code == 200, answer.text
    served = np.array([[p["probabilities"][c] for c in classes] for p in answer.json()["predictions"]])

    source = tmp_path / "raw_test_rows.parquet"
    rows.to_parquet(source)
    batch_predict(Bundle(repo / "models/deploy"), source, tmp_path / "out.parquet", chunk_rows=16)
    batched = pd.read_parquet(tmp_path / "out.parquet")[[f"probability_{c}" for c in classes]].to_numpy()

    edge = _edge_model(repo / "models/deploy")
    at_edge = np.array([[p["probabilities"][c] for c in classes] for p in edge.predict(records)])

    for name, found in {"server": served, "batch": batched, "edge": at_edge}.items():
        assert (found.argmax(1) == expected.argmax(1)).all(), name
        assert np.abs(found - expected).max() <= tolerance, name


def test_missing_values_stray_spaces_and_unseen_categories_are_served_and_counted(messy_repo):
    repo, _ = messy_repo
    base = {"island": "Biscoe", "bill_length_mm": 47.5, "bill_depth_mm": 14.8, "flipper_length_mm": 217.0,
            "body_mass_g": 5200.0, "sex": "female", "year": 2008}  # fmt: skip
    sent = [
        base,
        base | {"island": "  Biscoe "},
        base | {"sex": None, "bill_depth_mm": None},
        base | {"island": "Atlantis"},
        {k: v for k, v in base.items() if k != "sex"},  # the key left out: missing too
    ]
    process, url = start(repo)
    try:
        answer = httpx.post(f"{url}/predict", json={"records": sent}, timeout=30)
        metrics = httpx.get(f"{url}/metrics").text
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert answer.status_code == 200, answer.text
    predictions = answer.json()["predictions"]
    assert predictions[1] == predictions[0]  # the stray space is repaired, not a new category
    assert 'millrace_feature_missing_total{feature="sex"} 2.0' in metrics
    assert 'millrace_feature_missing_total{feature="bill_depth_mm"} 1.0' in metrics
    assert 'millrace_feature_unseen_total{feature="island"} 1.0' in metrics

    from millrace.serving import request_log

    logged = request_log.read(repo / "data/monitoring", 100).tail(len(sent))
    assert logged["_inputs"].tolist() == [
        None,
        None,
        {"missing": ["bill_depth_mm", "sex"]},
        {"unseen": ["island"]},
        {"missing": ["sex"]},
    ]


def test_shuffled_test_labels_change_no_choice(messy_repo, tmp_path):
    built, _ = messy_repo
    repo = shutil.copytree(built, tmp_path / "repo", symlinks=True)
    sh(repo, "python", "-m", "stages.deploy")  # again: now a champion (the first release) is compared

    def choices() -> dict:
        deployed = json.loads((repo / "reports/deploy.json").read_text())
        evaluation = json.loads((repo / "reports/evaluate/metrics.json").read_text())
        trained = json.loads((repo / "models/train/model.json").read_text())
        return {
            "selection": (repo / "models/selection.json").read_text(),
            "best_epoch_or_round": trained.get("best_epoch", trained.get("best_round")),
            "weights": weights_file(repo / "models/train", trained).read_bytes(),  # the portfolio's winner's
            "validation": evaluation["validation"],
            "ranked_by": json.loads((repo / "reports/metrics.json").read_text())["val"],
            "champion": {k: v for k, v in deployed["champion"].items() if k != "version"},
            "variants": {name: (v.get("refused", "kept"), v.get("metric")) for name, v in deployed["variants"].items()},
        }

    before = choices()
    assert before["champion"]["comparable"] and before["champion"]["passed"]
    test_file = repo / "data/label/test.parquet"
    test = pd.read_parquet(test_file)
    shuffled = test.assign(label=np.random.default_rng(0).permutation(test["label"].to_numpy()))
    assert (shuffled["label"] != test["label"]).any()
    shuffled.to_parquet(test_file)
    for stage in ("select", "train", "evaluate", "deploy"):
        sh(repo, "python", "-m", f"stages.{stage}")
    after = choices()
    test_accuracy = json.loads((repo / "reports/evaluate/metrics.json").read_text())["test"]["accuracy"]
    assert test_accuracy < 0.9  # the shuffle reached the test report …
    assert after == before  # … and nothing that chooses
