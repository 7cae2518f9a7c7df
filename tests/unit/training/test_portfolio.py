"""The portfolio: stable hash folds, candidates in round-robin order, each judged on held-out rows with real fits,
the best chosen, results cached per candidate (a changed family refits alone), and the budget respected."""

import dataclasses

import numpy as np
import pandas as pd
import pytest

from millrace.models.catalogue import FAMILIES
from millrace.sources.builtin import load_builtin
from millrace.training import portfolio
from tests.helpers.params import parse

LABELS = {"classes": ["Adelie", "Chinstrap", "Gentoo"], "task": "classification"}


@pytest.fixture(scope="module")
def splits():
    frame = load_builtin("penguins").dropna(subset=["species"]).sample(frac=1, random_state=0).reset_index(drop=True)
    frame["label"] = frame["species"].map({c: i for i, c in enumerate(LABELS["classes"])}).astype("int64")
    return frame.iloc[:240].reset_index(drop=True), frame.iloc[240:].reset_index(drop=True)


def small(name: str, *configs: dict) -> object:
    """The catalogue's family with a shorter search space, so the test fits little."""
    return dataclasses.replace(FAMILIES[name], search_space=configs)


def test_folds_come_from_the_rows_values_not_their_order(splits):
    train, _ = splits
    fold = pd.Series(portfolio.folds(train), index=train.index)
    shuffled = train.sample(frac=1, random_state=1)
    assert (pd.Series(portfolio.folds(shuffled), index=shuffled.index).sort_index() == fold).all()
    assert set(fold) == set(range(portfolio.FOLDS)) and fold.value_counts().min() > len(train) / 10
    doubled = pd.concat([train.iloc[:5], train.iloc[:5]], ignore_index=True)
    assert (portfolio.folds(doubled)[:5] == portfolio.folds(doubled)[5:]).all()  # a copy lands in its row's fold


def test_cross_validation_below_the_row_limit_the_validation_split_above(splits, monkeypatch):
    train, val = splits
    pairs = portfolio.splits(train, val)
    assert len(pairs) == portfolio.FOLDS
    assert sum(len(judged) for _, judged in pairs) == len(train) + len(val)  # every row judged once
    monkeypatch.setattr(portfolio, "CV_ROWS", 100)
    ((fit_rows, judged),) = portfolio.splits(train, val)
    assert fit_rows is train and judged is val


def test_candidates_go_round_robin_each_familys_default_first():
    families = [FAMILIES["tabular_mlp"], FAMILIES["lightgbm"], FAMILIES["linear"]]
    names = [c.name for c in portfolio.order(families, parse())]
    assert names[:3] == ["linear#1", "tabular_mlp#1", "lightgbm#1"]  # the catalogue's estimate: cheapest first
    assert names[3:6] == ["linear#2", "tabular_mlp#2", "lightgbm#2"]
    assert names[6:] == ["linear#3", "tabular_mlp#3", "lightgbm#3", "lightgbm#4"]  # a family's list may be longer


def test_the_best_held_out_score_wins_and_each_candidate_is_scored_on_every_fold(splits, tmp_path):
    train, val = splits
    params = parse({"seed": 0})
    families = [small("linear", {}, {"c": 0.0001}), small("lightgbm", {"n_estimators": 30})]
    results = portfolio.compare(families, train, val, LABELS, params, 600, cache=tmp_path)
    scores = {r.candidate.name: r for r in results}
    baselines = {"logistic_regression (baseline)", "hist_gradient_boosting (baseline)"}
    assert set(scores) == {"linear#1", "linear#2", "lightgbm#1", *baselines}  # the baselines judged on the same rows
    candidates = portfolio.judged(results)
    assert len(candidates) == 3 and all(r.error is not None and len(r.held_out) == portfolio.FOLDS for r in candidates)
    assert all(scores[name].error is not None and 0.9 < scores[name].score <= 1 for name in baselines)
    assert portfolio.best_baseline(results).candidate.name in baselines
    starved, default = scores["linear#2"], scores["linear#1"]  # c=0.0001 leaves the coefficients near zero
    assert starved.score < default.score and starved.loss > 10 * default.loss
    best = portfolio.winner(results, "classification")
    assert best.score == max(r.score for r in results) and best.candidate.name != "linear#2"
    assert portfolio.why_lost(scores["linear#2"], best, "accuracy").startswith("lower accuracy")
    exported = {name: r.export_seconds for name, r in scores.items() if "#" in name}
    assert exported["linear#2"] is None and exported["linear#1"] > 0 and exported["lightgbm#1"] > 0  # once a family


def test_results_are_cached_and_a_changed_family_alone_is_judged_again(splits, tmp_path, monkeypatch):
    train, val = splits
    params = parse({"seed": 0})
    families = [small("linear", {}), small("lightgbm", {"n_estimators": 30})]
    first = portfolio.compare(families, train, val, LABELS, params, 600, cache=tmp_path, baselines=False)
    judged = []
    real = portfolio.judge
    monkeypatch.setattr(portfolio, "judge", lambda c, *a, **k: judged.append(c.name) or real(c, *a, **k))
    again = portfolio.compare(families, train, val, LABELS, params, 600, cache=tmp_path, baselines=False)
    assert judged == [] and all(r.cached for r in portfolio.judged(again))
    assert [(r.score, r.held_out) for r in again] == [(r.score, r.held_out) for r in first]
    changed = [small("linear", {"c": 0.5}), families[1]]
    portfolio.compare(changed, train, val, LABELS, params, 600, cache=tmp_path, baselines=False)
    assert judged == ["linear#1"]  # lightgbm's result came from the cache
    portfolio.compare(changed, train, val, LABELS, parse({"seed": 1}), 600, cache=tmp_path, baselines=False)
    assert judged == ["linear#1", "linear#1", "lightgbm#1"]  # another seed: every candidate judged afresh


def test_candidates_the_budget_cannot_cover_are_not_tried_and_say_why(splits, tmp_path):
    train, val = splits
    families = [small("linear", {}), small("catboost", {})]
    results = portfolio.compare(families, train, val, LABELS, parse(), 1.0, cache=tmp_path, baselines=False)
    by_name = {r.candidate.name: r for r in results}
    assert by_name["linear#1"].skipped is None  # an estimated few milliseconds
    assert by_name["catboost#1"].skipped.startswith("not tried: about")  # 1000 rounds × 5 folds: over 1 s
    assert np.isfinite(by_name["linear#1"].score)


def test_the_time_to_export_the_winner_is_kept_back_from_the_budget(splits, tmp_path, monkeypatch):
    train, val = splits
    families = [small("linear", {}), small("lightgbm", {"n_estimators": 30})]
    monkeypatch.setattr(portfolio, "export_seconds", lambda *a: 50.0)  # an export as slow as a large network's
    results = portfolio.compare(families, train, val, LABELS, parse(), 70.0, cache=tmp_path, baselines=False)
    by_name = {r.candidate.name: r for r in results}
    assert by_name["linear#1"].export_seconds == 50.0
    # 1.5 × 50 s kept back for the final export: lightgbm, a few seconds to judge, no longer fits 70 s
    assert by_name["lightgbm#1"].skipped.startswith("not tried: about") and "0 s of the budget left" in (
        by_name["lightgbm#1"].skipped
    )


def test_a_blend_keeps_back_the_final_fit_and_export_of_every_member(splits, tmp_path, monkeypatch):
    train, val = splits
    families = [small("linear", {}, {"c": 0.5}), small("lightgbm", {"n_estimators": 30}, {"n_estimators": 31})]
    monkeypatch.setattr(portfolio, "export_seconds", lambda *a: 20.0)
    judged = {}
    for ensemble in (0, 2):
        results = portfolio.compare(
            families, train, val, LABELS, parse(), 62.0, cache=tmp_path / str(ensemble), ensemble=ensemble
        )
        judged[ensemble] = [r.candidate.name for r in results if r.skipped is None and "#" in r.candidate.name]
    # one export kept back (1.5 × 20 s): room for the second round; two members' (1.5 × 40 s = 60 s): none
    assert judged[0] == ["linear#1", "lightgbm#1", "linear#2", "lightgbm#2"]
    assert judged[2] == ["linear#1", "lightgbm#1"]


def test_a_blend_whose_members_final_fits_would_overrun_the_budget_is_not_built(tmp_path, monkeypatch):
    from tests.e2e.test_ensemble import linear_plus_step  # a table where linear and trees blend well

    frame = linear_plus_step(400).assign(label=lambda f: f["y"])
    train, val = frame.iloc[:300].reset_index(drop=True), frame.iloc[300:].reset_index(drop=True)
    labels = {"target": "y", "task": "regression", "classes": []}
    params = parse({"data": {"target": "y", "features": None, "task": "regression"}})
    families = [small("linear", {}), small("lightgbm", {"n_estimators": 200})]
    now = [0.0]
    real = portfolio.judge

    def slow_judge(*args, **kwargs):  # each candidate takes 10 s of the fake clock
        now[0] += 10.0
        return real(*args, **kwargs)

    monkeypatch.setattr(portfolio, "judge", slow_judge)
    monkeypatch.setattr(portfolio, "_estimate_seconds", lambda *a: 1.0)  # both tried: the blend is what is tested
    found = {}
    for budget in (20.5, 100.0):  # 0.5 s left after judging both; 80 s left
        now[0] = 0.0
        cache = tmp_path / str(budget)
        results = portfolio.compare(
            families, train, val, labels, params, budget, cache=cache, clock=lambda: now[0], ensemble=2, baselines=False
        )
        found[budget] = next(r for r in results if r.candidate.family == portfolio.ENSEMBLE)
    assert found[20.5].skipped.startswith("not built: its members' final fits and exports (about")
    assert found[100.0].skipped is None and set(found[100.0].candidate.config["of"]) == {"linear#1", "lightgbm#1"}


def _judged(name: str, folds: list[np.ndarray], truth: list[np.ndarray]) -> "portfolio.Result":
    family, number = name.split("#")
    candidate = portfolio.Candidate(family, int(number) - 1, dict(FAMILIES[family].search_space[int(number) - 1]))
    scores = [portfolio.score("classification", t, f) for t, f in zip(truth, folds, strict=True)]
    return portfolio.Result(
        candidate,
        score=float(np.mean([s for s, _ in scores])),
        error=0.01,
        loss=float(np.mean([loss for _, loss in scores])),
        held_out=[f.tolist() for f in folds],
    )


def test_a_blend_of_complementary_candidates_is_kept_and_one_that_adds_nothing_is_not():
    rng = np.random.default_rng(0)
    truth = [rng.integers(0, 2, 40) for _ in range(portfolio.FOLDS)]

    def noisy(offset):  # 0.8 on the true class, but a hesitant 0.45 on every tenth row: two such models err apart
        folds = []
        for t in truth:
            wrong = np.arange(len(t)) % 10 == offset
            p_true = np.where(wrong, 0.45, 0.8)
            p = np.where(t == 1, p_true, 1 - p_true)
            folds.append(np.stack([1 - p, p], axis=1))
        return folds

    first, second = _judged("lightgbm#1", noisy(0), truth), _judged("linear#1", noisy(5), truth)
    families = [FAMILIES["lightgbm"], FAMILIES["linear"]]
    blend = portfolio.blend([first, second], truth, "classification", 2, families)
    assert blend.skipped is None and blend.candidate.name == "ensemble"
    assert set(blend.candidate.config["of"]) == {"lightgbm#1", "linear#1"}
    assert abs(sum(m["weight"] for m in blend.candidate.config["members"]) - 1) < 1e-9
    assert first.score == second.score == 0.9 and blend.score == 1.0  # each one's hesitation outvoted by the other
    assert portfolio.winner([first, second, blend], "classification") is blend

    twin = _judged("lightgbm#2", noisy(0), truth)  # ranked second, but erring where lightgbm#1 errs
    diverse = portfolio.blend([first, twin, second], truth, "classification", 2, families)
    assert set(diverse.candidate.config["of"]) == {"lightgbm#1", "linear#1"}  # the best of each of two families

    perfect = _judged("xgboost#1", [np.stack([1 - t, t], axis=1).astype(float) for t in truth], truth)
    alone = portfolio.blend([first, perfect], truth, "classification", 2, [*families, FAMILIES["xgboost"]])
    assert alone.skipped == "not built: the weights fitted on held-out outputs chose xgboost#1 alone"
    assert portfolio.winner([first, perfect, alone], "classification") is perfect


def test_a_network_winner_trains_no_more_epochs_than_its_judged_fit_ran(splits, tmp_path, monkeypatch):
    train, val = splits
    monkeypatch.setattr(portfolio, "CV_ROWS", 100)  # one fit a candidate: judged on the validation split
    families = [small("linear", {}), small("tabular_mlp", {"size": "small"})]
    params = parse({"train": {"max_epochs": 30, "patience": 2}})
    first = portfolio.compare(families, train, val, LABELS, params, 600, cache=tmp_path, baselines=False)
    again = portfolio.compare(families, train, val, LABELS, params, 600, cache=tmp_path, baselines=False)
    network = next(r for r in first if r.candidate.family == "tabular_mlp")
    assert 3 <= network.epochs < 30  # early stopping on the tenth of the rows held back ended it
    selection = network.final_selection(FAMILIES["tabular_mlp"])
    assert selection["stop_after_epochs"] == network.epochs and selection["size"] == "small"
    linear = next(r for r in first if r.candidate.family == "linear")
    assert linear.epochs is None and "stop_after_epochs" not in linear.final_selection(FAMILIES["linear"])
    assert next(r for r in again if r.candidate.family == "tabular_mlp").epochs == network.epochs  # from the cache


def test_a_candidate_is_tried_only_if_its_own_final_fit_would_fit_too(splits, tmp_path, monkeypatch):
    train, val = splits
    monkeypatch.setattr(portfolio, "CV_ROWS", 100)  # one fit a candidate, its final fit about as long
    monkeypatch.setattr(portfolio, "_estimate_seconds", lambda family, *a: 40.0 if family.name == "lightgbm" else 0.1)
    families = [small("linear", {}), small("lightgbm", {"n_estimators": 30})]
    tried = {}
    for budget in (90.0, 130.0):  # 40 s to judge and 1.5 × 40 s kept back for its final fit: 100 s
        results = portfolio.compare(families, train, val, LABELS, parse(), budget, cache=tmp_path / str(budget))
        tried[budget] = {r.candidate.name: r.skipped for r in results if "#" in r.candidate.name}
    assert tried[90.0]["linear#1"] is None and tried[90.0]["lightgbm#1"].startswith("not tried: about 40 s to judge")
    assert tried[130.0]["lightgbm#1"] is None
