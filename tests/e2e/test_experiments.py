"""`dvc exp run`, `dvc exp show` listing it beside its baseline, `dvc plots diff` rendering both."""

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


def test_an_experiment_is_listed_beside_its_baseline_and_plotted_against_it(workspace):
    from stages import releases

    released = releases.listing(workspace / "models/releases")
    sh(workspace, "dvc", "exp", "run", "-n", "fast-lr", "-S", "train.lr=0.03", "-S", "train.max_epochs=3")
    listing = json.loads(sh(workspace, "dvc", "exp", "show", "--json").stdout)
    committed = next(row for row in listing if row["rev"] != "workspace")  # the workspace holds the experiment
    baseline = committed["data"]["params"]["params.yaml"]["data"]["train"]
    shown = experiments(listing)
    params = shown["fast-lr"]["params"]["params.yaml"]["data"]["train"]
    assert (params["lr"], params["max_epochs"]) == (0.03, 3) and baseline["lr"] == 0.01
    test = shown["fast-lr"]["metrics"]["reports/evaluate/metrics.json"]["data"]["test"]
    assert 0 <= test["accuracy"] <= 1 and "f1_macro" in test
    assert shown["fast-lr"]["metrics"]["reports/train/metrics.json"]["data"]["epoch"] <= 2

    assert releases.listing(workspace / "models/releases") == released  # an experiment is not a release

    compared = sh(workspace, "millrace", "compare").stdout
    assert "experiments by test accuracy" in compared and "train.lr=0.03, train.max_epochs=3" in compared
    page = (workspace / "dvc_plots/compare/index.html").read_text()
    for text in ("Loss", "Confusion", "fast-lr"):
        assert text in page
