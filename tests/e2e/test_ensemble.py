"""A blended model through the real pipeline: a portfolio whose weighted blend beats every single candidate on the
held-out rows trains each member, ships one ONNX graph that gives the members' weighted average, and the real
server and the edge loader answer with it.

The table is made here (synthetic: a linear signal over six columns plus a step in a seventh, so that the linear
model misses the step and the trees approximate the slope in stairs; evidence that blending works end to end,
not of model quality).
"""

import json

import httpx
import numpy as np
import pandas as pd
import pytest

from millrace.models import trained_model
from tests.e2e.test_serve import start
from tests.e2e.test_targets import predict_on_device
from tests.helpers.harness import commit_all, copy_project, sh

pytestmark = pytest.mark.slow

SETTINGS = """
data:
  source: {kind: file, path: data/inputs/blend.csv}
  target: y
  features: null
gates:
  raw: {suite: null}
  clean: {suite: null}
evaluate:
  thresholds: {r2: 0.5}
  slices: []
model:
  portfolio: [linear, lightgbm]
  ensemble: 2
"""


def linear_plus_step(n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(n, 7))
    y = x[:, :6].sum(axis=1) + 2.5 * (x[:, 6] > 0) + rng.normal(scale=0.5, size=n)
    frame = pd.DataFrame(x, columns=[f"x{i}" for i in range(1, 8)]).round(4)
    return frame.assign(y=y.round(4))


def test_a_blend_that_beats_its_members_is_trained_deployed_and_served_as_one_model(tmp_path):
    repo = copy_project(tmp_path / "repo")
    linear_plus_step().to_csv(repo / "data/inputs/blend.csv", index=False)
    (repo / "mine.yaml").write_text(SETTINGS)
    commit_all(repo, "a table")
    sh(repo, "millrace", "preset", "mine.yaml")
    commit_all(repo, "its params")
    sh(repo, "dvc", "repro")

    selection = json.loads((repo / "models/selection.json").read_text())
    assert selection["family"] == "ensemble"
    assert sorted(m["family"] for m in selection["members"]) == ["lightgbm", "linear"]  # one of each family
    board = {e["candidate"]: e for e in selection["leaderboard"]}
    assert board["ensemble"]["verdict"] == "**chosen**"
    assert all(board["ensemble"]["score"] > e["score"] for name, e in board.items() if name != "ensemble")

    train = repo / "models/train"
    weights = json.loads((train / "ensemble.json").read_text())
    saved = sorted(p.name for p in (train / "members").glob("*/model.*.*") if p.name != "model.json")
    assert saved == ["model.lightgbm.txt", "model.linear.json"]
    manifest = json.loads((repo / "models/deploy/manifest.json").read_text())
    assert manifest["family"] == "ensemble" and manifest["parity"]["onnx_max_abs_diff"] <= 1e-4
    assert "refused" in manifest["variants"]["int8"]
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert metrics["standard_met"] is True and metrics["test"]["r2"] >= 0.85

    test = pd.read_parquet(repo / "data/label/test.parquet")
    records = json.loads(test[[f"x{i}" for i in range(1, 8)]].head(10).to_json(orient="records"))
    blended = trained_model.load(train)
    expected = trained_model.predict(blended, pd.DataFrame(records)).numpy()
    members = [trained_model.load(train / "members" / str(i)) for i in range(2)]
    by_hand = sum(
        w * trained_model.predict(m, pd.DataFrame(records)).numpy()
        for w, m in zip(weights["weights"], members, strict=True)
    )
    assert np.allclose(expected, by_hand, atol=1e-6)
    assert not np.allclose(expected, trained_model.predict(members[0], pd.DataFrame(records)).numpy(), atol=1e-2)

    process, url = start(repo)
    try:
        reply = httpx.post(f"{url}/predict", json={"records": records}, timeout=30)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert reply.status_code == 200, reply.text
    served = [p["value"] for p in reply.json()["predictions"]]
    assert np.allclose(served, expected, atol=1e-4)
    on_device = predict_on_device(repo / "models/deploy/edge", records, tmp_path)
    assert np.allclose([p["value"] for p in on_device], expected, atol=1e-4)
