"""Labelling rules vote, combine and never override a human; their analysis and mistakes are named."""

from __future__ import annotations

import pandas as pd
import pytest

from millrace.config.params import ParamsError
from millrace.errors import MillraceError
from millrace.labelling import weak_supervision
from millrace.labelling.sources import assign_labels
from tests.helpers.labelling import MAIL, RULES, label_params


def test_rules_vote_combine_and_never_override_a_human():
    frame, source, _, report = assign_labels(MAIL, "topic", label_params(rules=RULES), "text")
    assert frame["topic"].fillna("-").tolist() == ["billing", "delivery", "-", "-", "billing"]
    assert source.tolist() == ["rule", "rule", None, None, "column"]
    assert report["rules"]["labelled"] == 2 and report["rules"]["abstained_or_tied"] == 2
    assert report["sources"] == {"rule": 2, "unlabelled": 2, "column": 1}


def test_weighted_combination_breaks_the_tie_toward_the_heavier_rule():
    frame, _, _, _ = assign_labels(MAIL, "topic", label_params(rules=RULES, combine="weighted"), "text")
    assert frame["topic"][2] == "delivery"


def test_rule_analysis_reports_coverage_overlap_conflict_and_accuracy():
    rules = label_params(rules=RULES).rules
    stats = weak_supervision.analysis(weak_supervision.votes(rules, MAIL, "text"), MAIL["topic"])
    assert stats["billing_words"] == {
        "coverage": 0.4,
        "overlap": 0.2,
        "conflict": 0.2,
        "votes": 2,
        "human_checked": 0,
        "accuracy_on_human": None,
    }
    assert stats["delivery_words"]["coverage"] == 0.6
    assert stats["delivery_words"]["accuracy_on_human"] == 0.0  # it said delivery where a human said billing


def test_threshold_rules_and_their_mistakes_are_named():
    frame = pd.DataFrame({"mass": [3000.0, 5000.0, 4000.0], "y": [None, None, None]})
    rules = [{"name": "heavy", "label": "gentoo", "column": "mass", "above": 4500}]
    labelled, _, _, _ = assign_labels(frame, "y", label_params(rules=rules), None)
    assert labelled["y"].fillna("-").tolist() == ["-", "gentoo", "-"]
    with pytest.raises(MillraceError, match="label.rules 'heavy': no column 'weight'"):
        assign_labels(frame, "y", label_params(rules=[rules[0] | {"column": "weight"}]), None)
    with pytest.raises(ParamsError, match="exactly one of keywords, regex, or above/below"):
        label_params(rules=[{"name": "r", "label": "x", "keywords": ["a"], "regex": "b"}])
    with pytest.raises(ParamsError, match="regex '\\(' does not compile"):
        label_params(rules=[{"name": "r", "label": "x", "regex": "("}])
    with pytest.raises(ParamsError, match="rule names \\['r'\\] are used more than once"):
        label_params(rules=[{"name": "r", "label": "x", "regex": "a"}, {"name": "r", "label": "y", "regex": "b"}])
