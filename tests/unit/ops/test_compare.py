"""Ranking experiments from `dvc exp show --json`: best validation metric first (the test metric shown, never
ranked by), ties broken, errors lowest first, the baseline."""

import pytest

from millrace.errors import MillraceError
from millrace.ops.compare import table


def headline(val: dict, passed: bool = True, test: dict | None = None) -> dict:
    test = test if test is not None else {k: v - 0.01 for k, v in val.items()}
    return {"reports/metrics.json": {"data": {"val": val, "test": test, "standard_met": passed}}}


def run(name: str, lr: float, val: dict, passed: bool = True, test: dict | None = None) -> dict:
    params = {"params.yaml": {"data": {"train": {"lr": lr, "max_epochs": 5}}}}
    metrics = headline(val, passed, test)
    return {"revs": [{"name": name, "rev": name * 3, "data": {"params": params, "metrics": metrics}}]}


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
    with pytest.raises(MillraceError, match=r"--metric 'r2': not a headline validation metric; they are"):
        table(LISTING, "r2")


def test_the_test_metric_is_shown_but_never_chooses():
    split = listing(
        run("better_on_test", 0.02, {"accuracy": 0.90}, test={"accuracy": 0.99}),
        run("better_on_val", 0.03, {"accuracy": 0.93}, test={"accuracy": 0.80}),
    )
    rows = table(split, None)[0]
    assert [r["experiment"] for r in rows] == ["better_on_val", "better_on_test"]
    assert rows[0]["test accuracy"] == 0.80 and rows[0]["val accuracy"] == 0.93
