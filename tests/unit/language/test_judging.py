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
