"""`dvc exp run` twice, `dvc exp show` comparing them, `dvc plots diff` rendering both."""

import json

import pytest

from tests.harness import sh

pytestmark = pytest.mark.slow


def experiments(shown: list[dict]) -> dict[str, dict]:
    found = {}
    for baseline in shown:
        for exp in baseline.get("experiments") or []:
            for rev in exp["revs"]:
                found[rev["name"]] = rev["data"]
    return found


def test_two_experiments_are_listed_and_plotted(workspace, tmp_path):
    from stages import releases

    released = releases.listing(workspace / "models/releases")
    for name, lr in [("slow-lr", "0.003"), ("fast-lr", "0.03")]:
        sh(workspace, "dvc", "exp", "run", "-n", name, "-S", f"train.lr={lr}", "-S", "train.max_epochs=3")
    shown = experiments(json.loads(sh(workspace, "dvc", "exp", "show", "--json").stdout))
    assert {"slow-lr", "fast-lr"} <= set(shown)
    for name, lr in [("slow-lr", 0.003), ("fast-lr", 0.03)]:
        params = shown[name]["params"]["params.yaml"]["data"]["train"]
        assert params["lr"] == lr and params["max_epochs"] == 3
        test = shown[name]["metrics"]["reports/evaluate/metrics.json"]["data"]["test"]
        assert 0 <= test["accuracy"] <= 1 and "f1_macro" in test
        epochs = shown[name]["metrics"]["reports/train/metrics.json"]["data"]["epoch"]
        assert epochs <= 2

    assert releases.listing(workspace / "models/releases") == released  # an experiment is not a release

    out = tmp_path / "plots"
    sh(workspace, "dvc", "plots", "diff", "slow-lr", "fast-lr", "-o", str(out))
    page = (out / "index.html").read_text()
    for text in ("Loss", "Confusion", "slow-lr", "fast-lr"):
        assert text in page
