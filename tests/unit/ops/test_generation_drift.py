"""A language model's drift on request logs the test makes: prompt lengths that moved are drift, the same
lengths are not; the shares of cut-off and empty answers and of 400 and 429 refusals are counted over what they
are shares of; a corpus model's lengths are reported, never judged."""

import numpy as np
import pandas as pd

from millrace.config.params import Monitor
from millrace.ops import drift, generation_drift

RNG = np.random.default_rng(0)
REFERENCE = pd.DataFrame({"prompt_tokens": RNG.normal(40, 6, 500).round(), "completion_tokens": RNG.poisson(5, 500)})


def logged(prompt_mean: float, rows: int = 200) -> pd.DataFrame:
    frame = pd.DataFrame(
        {
            "prompt_tokens": RNG.normal(prompt_mean, 6, rows).round(),
            "completion_tokens": RNG.poisson(5, rows),
            "finish_reason": ["length"] * (rows // 4) + ["stop"] * (rows - rows // 4),
            "empty": [True] * (rows // 10) + [False] * (rows - rows // 10),
            "first_token_ms": RNG.uniform(10, 30, rows),
            "_latency_ms": RNG.uniform(100, 300, rows),
            "refused": np.nan,
        }
    )
    refusals = pd.DataFrame({"refused": [400] * 30 + [429] * 20, "code": "x"})
    return pd.concat([frame, refusals], ignore_index=True)


def test_prompts_that_grew_are_drift_and_the_same_lengths_are_not():
    steady = generation_drift.run(REFERENCE, logged(40), Monitor())
    grown = generation_drift.run(REFERENCE, logged(120), Monitor())
    assert steady["drifted"] is False and not steady["drifted_features"]
    assert grown["drifted"] is True and grown["drifted_features"] == ["prompt_tokens"]
    assert grown["features"]["prompt_tokens"]["current_mean"] > 100


def test_answers_and_refusals_are_shares_of_what_they_belong_to():
    answers = generation_drift.run(REFERENCE, logged(40), Monitor())["answers"]
    assert answers["answered"] == 200
    assert (answers["truncated_share"], answers["empty_share"]) == (0.25, 0.1)  # of the 200 answers
    assert (answers["refused_400_share"], answers["refused_429_share"]) == (0.12, 0.08)  # of all 250 requests
    assert 10 <= answers["first_token_ms"]["p50"] <= answers["first_token_ms"]["p95"] <= 30


def test_a_corpus_models_lengths_are_reported_not_judged_and_the_report_says_why():
    report = drift.run(None, logged(120), {"version": "v1", "task": "pretraining"}, Monitor())
    assert report["drifted"] is False and report["features"]["prompt_tokens"]["psi"] is None
    text = drift.markdown(report)
    assert "a corpus model" in text and "refused 429 (busy) | 8.0%" in text


def test_too_few_logged_requests_give_no_verdict():
    report = drift.run(REFERENCE, logged(40, rows=10).head(20), {"version": "v1", "task": "sft"}, Monitor())
    assert report["drifted"] is None and "monitor.min_rows" in report["reason"]
