"""Ranking experiments from `dvc exp show --json`: best first, what changed, errors lowest first."""

import pytest

from millrace.errors import MillraceError
from millrace.ops.compare import table


def run(name: str, lr: float, test: dict, passed: bool = True) -> dict:
    params = {"params.yaml": {"data": {"train": {"lr": lr, "max_epochs": 5}}}}
    metrics = {"reports/evaluate/metrics.json": {"data": {"test": test, "delivery": {"passed": passed}}}}
    return {"revs": [{"name": name, "rev": name * 3, "data": {"params": params, "metrics": metrics}}]}


LISTING = [
    {"rev": "workspace", "data": {}, "experiments": None},
    {
        "rev": "abc1234",
        "data": {"params": {"params.yaml": {"data": {"train": {"lr": 0.01, "max_epochs": 5}}}}},
        "experiments": [
            run("slow", 0.003, {"accuracy": 0.90, "mae": 0.3}, passed=False),
            run("fast", 0.03, {"accuracy": 0.97, "mae": 0.1}),
        ],
    },
]


def test_best_first_with_what_changed_and_the_baseline():
    rows, metric, baseline = table(LISTING, None)
    assert metric == "accuracy" and baseline == "abc1234"
    assert [(r["experiment"], r["changed"], r["standard"]) for r in rows] == [
        ("fast", "train.lr=0.03", True),
        ("slow", "train.lr=0.003", False),
    ]


def test_errors_sort_lowest_first_and_an_unknown_metric_is_named():
    assert [r["experiment"] for r in table(LISTING, "mae")[0]] == ["fast", "slow"]
    with pytest.raises(MillraceError, match="--metric 'r2': not measured by"):
        table(LISTING, "r2")
