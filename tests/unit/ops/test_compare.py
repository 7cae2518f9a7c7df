"""Ranking experiments from `dvc exp show --json`: best first, ties broken, errors lowest first, the baseline."""

import pytest

from millrace.errors import MillraceError
from millrace.ops.compare import table


def headline(test: dict, passed: bool = True) -> dict:
    return {"reports/metrics.json": {"data": {"test": test, "standard_met": passed}}}


def run(name: str, lr: float, test: dict, passed: bool = True) -> dict:
    params = {"params.yaml": {"data": {"train": {"lr": lr, "max_epochs": 5}}}}
    return {"revs": [{"name": name, "rev": name * 3, "data": {"params": params, "metrics": headline(test, passed)}}]}


BASELINE_PARAMS = {"params.yaml": {"data": {"train": {"lr": 0.01, "max_epochs": 5}}}}


def listing(*experiments: dict) -> list[dict]:
    baseline = {"params": BASELINE_PARAMS, "metrics": headline({"accuracy": 0.95, "f1_macro": 0.9, "mae": 0.2})}
    return [
        {"rev": "workspace", "data": {}, "experiments": None},
        {"rev": "abc1234", "data": baseline, "experiments": list(experiments)},
    ]


LISTING = listing(
    run("slow", 0.003, {"accuracy": 0.90, "mae": 0.3}, passed=False),
    run("fast", 0.03, {"accuracy": 0.97, "mae": 0.1}),
)


def test_best_first_with_what_changed_and_the_baselines_score():
    rows, metric, baseline = table(LISTING, None)
    assert metric == "accuracy" and baseline == {"rev": "abc1234", "accuracy": 0.95}
    assert [(r["experiment"], r["changed"], r["standard"]) for r in rows] == [
        ("fast", "train.lr=0.03", True),
        ("slow", "train.lr=0.003", False),
    ]


def test_ties_go_to_the_standard_met_then_the_other_metrics_then_the_name():
    tied = listing(
        run("b_worse_f1", 0.02, {"accuracy": 0.97, "f1_macro": 0.90}),
        run("c_not_met", 0.04, {"accuracy": 0.97, "f1_macro": 0.99}, passed=False),
        run("a_better_f1", 0.03, {"accuracy": 0.97, "f1_macro": 0.95}),
        run("d_same", 0.05, {"accuracy": 0.97, "f1_macro": 0.95}),
    )
    assert [r["experiment"] for r in table(tied, None)[0]] == ["a_better_f1", "d_same", "b_worse_f1", "c_not_met"]


def test_errors_sort_lowest_first_and_an_unknown_metric_is_named():
    assert [r["experiment"] for r in table(LISTING, "mae")[0]] == ["fast", "slow"]
    with pytest.raises(MillraceError, match=r"--metric 'r2': not measured by .* the headline metrics are"):
        table(LISTING, "r2")
