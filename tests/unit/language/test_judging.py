"""Scoring a language model's answers: ROUGE-L, BLEU and exact match as their libraries compute them, exact match
lenient about case and punctuation, bootstrap intervals around the figure, perplexity weighted by tokens."""

import math

import pytest

from millrace.language import judging, review


def test_answers_are_scored_and_bracketed():
    predictions = ["Paris.", "the capital is rome", "Madrid", "I do not know"]
    references = ["paris", "The capital is Rome.", "Lisbon", "Lima"]
    metrics, intervals = judging.scores(predictions, references, resamples=200, seed=0)
    assert metrics["exact_match"] == 0.5  # case and punctuation aside
    assert metrics["rouge_l"] == pytest.approx((1 + 1 + 0 + 0) / 4)
    assert metrics["bleu"] == pytest.approx(judging.bleu(predictions, references))
    for name in ("rouge_l", "exact_match"):
        assert intervals[name]["low"] <= metrics[name] <= intervals[name]["high"]
        assert intervals[name]["low"] < intervals[name]["high"]
    assert judging.scores(predictions, references, resamples=0, seed=0)[1] == {}


def test_perplexity_weighs_examples_by_their_tokens():
    losses = [(1.0, 1), (9.0, 3)]  # summed loss, learned tokens: 1 and 3 a token
    assert judging.perplexity(losses) == pytest.approx(math.exp(10.0 / 4))  # not exp of the mean of 1 and 3
    interval = judging.perplexity_interval(losses, 200, 0)
    assert math.exp(1) - 1e-3 <= interval["low"] < math.exp(2.5) < interval["high"] <= math.exp(3) + 1e-3


def test_the_review_hides_which_answer_is_the_tuned_models():
    prompts = [f"prompt {i}" for i in range(30)]
    pairs = review.pairs(prompts, ["ref"] * 30, [f"base {i}" for i in range(30)], [f"tuned {i}" for i in range(30)], 7)
    assert len(pairs) == review.REVIEWED and {p["tuned"] for p in pairs} == {"A", "B"}
    for pair in pairs:
        assert pair[pair["tuned"]].startswith("tuned") and pair["B" if pair["tuned"] == "A" else "A"].startswith("base")
    assert pairs == review.pairs(
        prompts, ["ref"] * 30, [f"base {i}" for i in range(30)], [f"tuned {i}" for i in range(30)], 7
    )


def test_answers_are_read_leniently_from_a_closed_set_or_the_first_line():
    known = judging.choices(["billing", "Delivery", "billing", "support"])
    assert known == ["billing", "delivery", "support"]
    assert judging.extract("I think this is a Delivery problem, not billing.", known) == "delivery"
    assert judging.extract("Team: support", known) == "support"
    assert judging.extract("redelivery", known) == "redelivery"  # whole words only
    assert judging.choices([f"answer {i}" for i in range(30)]) is None
    assert judging.extract("\n  Paris, of course.\nMore text", None) == "Paris, of course."
    metrics, _ = judging.scores(["It is billing.", "support"], ["billing", "support"], 0, 0, known)
    assert metrics["exact_match"] == 0.5 and metrics["extracted_match"] == 1.0


def test_the_base_sees_the_shots_as_earlier_turns_after_the_system_message():
    shot = [{"role": "user", "content": "q1"}, {"role": "assistant", "content": "a1"}]
    prompt = [{"role": "system", "content": "Be brief."}, {"role": "user", "content": "q2"}]
    assert judging.with_shots(prompt, [shot]) == [prompt[0], *shot, prompt[1]]
    assert judging.with_shots(prompt[1:], [shot, shot]) == [*shot, *shot, prompt[1]]


def test_reviewers_preferences_become_a_win_rate_while_the_answers_are_the_ones_they_compared(tmp_path):
    import pandas as pd

    from millrace.config.params import Evaluate
    from millrace.errors import MillraceError
    from millrace.evaluation.delivery import delivery

    reviewed = review.pairs(["p1", "p2", "p3"], ["r"] * 3, ["b1", "b2", "b3"], ["t1", "t2", "t3"], seed=7)
    rows = [(p["id"], p["pair"], p["tuned"]) for p in reviewed[:2]]  # the tuned answer preferred twice
    rows.append((reviewed[2]["id"], reviewed[2]["pair"], "tie"))
    rows.append((reviewed[2]["id"], "an older pair", "A"))  # superseded by nothing: the last row per prompt counts
    frame = pd.DataFrame(rows, columns=["prompt_id", "pair", "preferred"]).assign(note="", reviewer="ann")
    path = tmp_path / review.PREFERENCES_FILE
    frame.to_csv(path, index=False)
    found = review.win_rate(review.read_preferences(path), reviewed, 100, 0)
    assert found["preferences"] == 3 and found["current"] == 2 and found["stale"] == 1
    assert found["win_rate"] == 1.0
    frame.iloc[:3].to_csv(path, index=False)
    found = review.win_rate(review.read_preferences(path), reviewed, 100, 0)
    assert found["win_rate"] == pytest.approx(2.5 / 3, abs=1e-4) and found["interval"]["low"] < found["win_rate"]
    standard = Evaluate(thresholds={}, review={"min_win_rate": 0.9})
    assert not delivery({}, standard, review=found)["passed"]
    assert delivery({}, Evaluate(thresholds={}, review={"min_win_rate": 0.8}), review=found)["passed"]
    none = review.win_rate(review.read_preferences(tmp_path / "absent.csv"), reviewed, 100, 0)
    assert "no current reviewer preferences" in delivery({}, standard, review=none)["reasons"][0]
    frame.assign(preferred="base").to_csv(path, index=False)
    with pytest.raises(MillraceError, match="'base' is not one of"):
        review.read_preferences(path)
