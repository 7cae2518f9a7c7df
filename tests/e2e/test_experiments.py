"""`millrace sweep`: the grid as queued `dvc exp run`s, two at a time, listed by `dvc exp show` beside
their baseline, ranked by `millrace compare` and plotted against the baseline with `dvc plots diff`."""

import json
import re

import pytest

from tests.helpers.harness import RELEASES, sh, tool_env

pytestmark = pytest.mark.slow


def experiments(shown: list[dict]) -> dict[str, dict]:
    found = {}
    for baseline in shown:
        for exp in baseline.get("experiments") or []:
            for rev in exp["revs"]:
                found[rev["name"]] = rev["data"]
    return found


def test_a_sweep_queues_the_grid_runs_it_in_parallel_and_ranks_it(workspace):
    from millrace.ops import compare
    from millrace.release import registry

    released = registry.listing(workspace / RELEASES)
    params = (workspace / "params.yaml").read_text()
    grid = "  grid: {train.lr: [0.02, 0.03], train.max_epochs: [3]}"
    (workspace / "params.yaml").write_text(re.sub(r"^  grid: .*$", grid, params, count=1, flags=re.MULTILINE))
    swept = sh(workspace, "millrace", "sweep").stdout
    assert "queued 2 experiments (train.lr=0.02,0.03 × train.max_epochs=3); running 2 at a time" in swept

    listing = json.loads(sh(workspace, "dvc", "exp", "show", "--json").stdout)
    committed = next(row for row in listing if row["rev"] != "workspace")
    assert committed["data"]["params"]["params.yaml"]["data"]["train"]["lr"] == 0.01  # the baseline
    shown = experiments(listing)
    trained = {
        (d["params"]["params.yaml"]["data"]["train"]["lr"], d["params"]["params.yaml"]["data"]["train"]["max_epochs"])
        for d in shown.values()
    }
    assert trained == {(0.02, 3), (0.03, 3)}
    for data in shown.values():  # the headline figures and training's, nothing more
        assert set(data["metrics"]) == {"reports/metrics.json", "reports/train/metrics.json"}
        headline = data["metrics"]["reports/metrics.json"]["data"]
        for split in ("val", "test"):
            assert 0 <= headline[split]["accuracy"] <= 1 and set(headline[split]) == {"accuracy", "f1_macro"}
        assert data["metrics"]["reports/train/metrics.json"]["data"]["epoch"] <= 2
    assert registry.listing(workspace / RELEASES) == released  # an experiment is not a release
    # what the README suggests: the params that vary and the headline metrics, not hundreds of columns
    header = sh(workspace, "dvc", "exp", "show", "--only-changed", "--drop", ".*/.*", "--csv").stdout.splitlines()[0]
    columns = header.split(",")
    assert {"train.lr", "train.max_epochs", "val.loss"} <= set(columns) and len(columns) <= 24, columns
    assert not [c for c in columns if c.startswith(("per_class", "slices", "baselines", "confidence"))], columns
    assert sh(workspace, "git", "status", "--porcelain", "--untracked-files=no").stdout.strip() == "M params.yaml"

    # the sweep ended with `millrace compare`: both ranked, best first, the best plotted against the baseline
    rows, metric, baseline = compare.experiments(workspace)
    assert baseline["rev"] == committed["rev"] and 0 < baseline["accuracy"] <= 1
    assert metric == "accuracy" and {row["experiment"] for row in rows} == set(shown)
    ranked = [row["val accuracy"] for row in rows]
    assert ranked == sorted(ranked, reverse=True)  # by the validation metric; the test metric is only shown
    assert "experiments by validation accuracy" in swept and all(name in swept for name in shown)
    assert f"baseline {committed['rev'][:7]}: val accuracy" in swept
    assert f"curves of {rows[0]['experiment']} against the baseline" in swept
    page = (workspace / "dvc_plots/compare/index.html").read_text()
    for text in ("Loss", "Confusion"):
        assert text in page


def test_an_experiment_the_queue_calls_a_success_but_dvc_never_recorded_is_run_again(workspace, monkeypatch):
    """The state DVC leaves when two queue workers finish at once (treeverse/dvc#8014, seen in CI): the
    queue says Success, no experiment holds the name. The sweep runs that point again and records it."""
    from rich.console import Console

    from millrace.ops import sweep

    monkeypatch.chdir(workspace)
    for key, value in tool_env(workspace).items():
        monkeypatch.setenv(key, value)
    before = sweep.recorded()
    found = {"lost-exp": "Success"}
    sweep.run_lost({"lost-exp": ["train.lr=0.02", "train.max_epochs=3"]}, found, Console(soft_wrap=True))
    (name,) = found
    assert found[name] == "Success" and sweep.recorded() == before | {name}
    (shown,) = experiments(json.loads(sh(workspace, "dvc", "exp", "show", "--json").stdout)).values()
    train = shown["params"]["params.yaml"]["data"]["train"]
    assert (train["lr"], train["max_epochs"]) == (0.02, 3)
    assert sh(workspace, "git", "status", "--porcelain", "--untracked-files=no").stdout.strip() == ""  # left alone
