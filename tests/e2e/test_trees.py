"""Tree and linear families through the real pipeline: `model.name: xgboost` (then `lightgbm`, `catboost`,
`linear`) reruns select to deploy only, trains (the trees with early stopping), ships one ONNX graph that gives
the trained model's probabilities, and the real server answers with them; a GPU asked for on this CPU machine is
refused by the train stage, saying why. A portfolio (`model.portfolio`) is judged by cross-validation, deploys
its winner, and judges again only the family whose settings changed."""

import json

import httpx
import numpy as np
import pandas as pd
import pytest

from millrace.models import trained_model
from tests.e2e.test_serve import PENGUIN, start
from tests.helpers.harness import set_param, sh, stages_run

pytestmark = pytest.mark.slow


def served_probabilities(repo) -> dict[str, float]:
    process, url = start(repo)
    try:
        for _ in range(150):
            reply = httpx.post(f"{url}/predict", json={"records": [PENGUIN]}, timeout=10)
            if reply.status_code != 503:
                break
        assert reply.status_code == 200, reply.text
        return reply.json()["predictions"][0]["probabilities"]
    finally:
        process.terminate()
        process.wait(timeout=10)


def test_tree_families_train_deploy_and_serve_what_they_trained(workspace):
    set_param(workspace, r"^  champion_tolerance: .*$", "  champion_tolerance: 1.0")  # a family change, judged here
    for family, saved in (
        ("xgboost", "model.xgboost.json"),
        ("lightgbm", "model.lightgbm.txt"),
        ("catboost", "model.catboost.cbm"),
        ("linear", "model.linear.json"),
    ):
        set_param(workspace, r"^  name: \S+ ", f"  name: {family} ")
        ran = sh(workspace, "dvc", "repro")
        assert stages_run(ran.stdout) == ["select", "train", "evaluate", "deploy"]  # the data stages are as they were

        train = workspace / "models/train"
        meta = json.loads((train / "model.json").read_text())
        assert (train / saved).is_file() and not (train / "model.safetensors").exists()
        assert meta["family"] == family and meta["best_round"] <= meta["rounds_run"] <= 1000
        if family in ("lightgbm", "xgboost"):  # CatBoost's val loss on penguins still falls at round 1000
            assert meta["rounds_run"] < 1000  # stopped early
        assert meta["rounds_run"] > 1 or family == "linear"
        curve = pd.read_csv(workspace / "reports/train/plots/metrics/val/loss.tsv", sep="\t")
        assert len(curve) == meta["rounds_run"]  # one row per round; the best round's loss is the lowest (rounded)
        assert curve["loss"].iloc[meta["best_round"] - 1] == curve["loss"].min() == meta["best_val_loss"]

        evaluation = json.loads((workspace / "reports/evaluate/metrics.json").read_text())
        assert evaluation["test"]["accuracy"] >= 0.9 and evaluation["model"]["family"] == family
        importance = evaluation["feature_importance"]["features"]
        columns = json.loads((train / "preprocess.json").read_text())["columns"]
        assert set(importance) == {c["name"] for c in columns} and abs(sum(importance.values()) - 1) < 1e-3
        card = (workspace / "models/deploy/MODEL_CARD.md").read_text()
        assert f"## Feature importance ({evaluation['feature_importance']['kind']})" in card
        manifest = json.loads((workspace / "models/deploy/manifest.json").read_text())
        assert manifest["family"] == family and "model.torchscript.pt" not in manifest["files"]
        assert manifest["parity"]["onnx_max_abs_diff"] <= 1e-4 and manifest["parity"]["onnx_same_predictions"]
        assert manifest["variants"]["int8"]["refused"].startswith("not built: quantising and pruning act on")

        trained = trained_model.load(train)
        expected = trained_model.predict(trained, pd.DataFrame([PENGUIN])).numpy()[0]
        served = served_probabilities(workspace)
        assert np.allclose([served[c] for c in trained.classes], expected, atol=1e-5)
        assert max(served, key=served.get) == "Gentoo"

    set_param(workspace, r"^  accelerator: auto .*$", "  accelerator: gpu")
    refused = sh(workspace, "dvc", "repro", "train", check=False)
    said = refused.stdout + refused.stderr
    assert refused.returncode != 0 and "Traceback" not in said
    assert "train.accelerator: gpu with a linear family: this machine has no CUDA GPU" in said  # the last one


def test_a_portfolio_deploys_its_cross_validated_winner_and_rejudges_only_a_changed_family(workspace):
    set_param(workspace, r"^  champion_tolerance: .*$", "  champion_tolerance: 1.0")
    set_param(workspace, r"^  portfolio: .*$", "  portfolio: [linear, tabular_mlp]")
    set_param(workspace, r"^  ensemble: .*$", "  ensemble: 0")  # single models here; tests/e2e/test_ensemble.py blends
    set_param(workspace, r"^  max_epochs: .*$", "  max_epochs: 15")
    first = sh(workspace, "dvc", "repro")
    assert stages_run(first.stdout)[-4:] == ["select", "train", "evaluate", "deploy"]
    assert "portfolio of" in first.stdout and "judged by 5-fold cross-validation" in first.stdout

    page = (workspace / "reports/selection.md").read_text()
    rows = [line.split("|") for line in page.splitlines() if line.startswith("| ") and "#" in line.split("|")[1]]
    assert sorted(r[1].strip() for r in rows) == sorted(
        [*(f"linear#{i}" for i in (1, 2, 3)), *(f"tabular_mlp#{i}" for i in (1, 2, 3))]
    )
    chosen = next(r[1].strip() for r in rows if "**chosen**" in r[-2])
    scores = [float(r[3].split("±")[0]) for r in rows]
    assert scores == sorted(scores, reverse=True) and "**chosen**" in rows[0][-2]  # best held-out score first
    assert all("(cached)" not in r[5] for r in rows)
    selection = json.loads((workspace / "models/selection.json").read_text())
    manifest = json.loads((workspace / "models/deploy/manifest.json").read_text())
    assert manifest["family"] == selection["family"] == chosen.split("#")[0]
    summary = sh(workspace, "millrace", "summary").stdout
    assert "Portfolio: held-out accuracy" in summary and chosen in summary and "chosen" in summary
    marked = [e["candidate"] for e in selection["leaderboard"] if e["verdict"] == "**chosen**"]
    assert marked == [chosen]  # the scores are in selection.json; the timings stay in the report
    assert "fit_seconds" not in selection["leaderboard"][0]

    set_param(workspace, r"^  lr: .*$", "  lr: 0.02")  # the network's setting; the linear model ignores it
    again = sh(workspace, "dvc", "repro", "select")
    assert stages_run(again.stdout) == ["select"]
    rows = [line.split("|") for line in (workspace / "reports/selection.md").read_text().splitlines()]
    cached = {r[1].strip(): "(cached)" in r[5] for r in rows if len(r) > 5 and "#" in r[1]}
    assert cached == {**{f"linear#{i}": True for i in (1, 2, 3)}, **{f"tabular_mlp#{i}": False for i in (1, 2, 3)}}
