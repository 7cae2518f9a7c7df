"""Label sources (column, annotations, rules), rule analysis, annotator agreement, review, active learning."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from stages import annotations, curation, weak
from stages.errors import MillraceError
from stages.label import assign_labels, row_ids
from stages.params import ParamsError, parse_params


def label_params(**label):
    return parse_params({"label": label}).label


MAIL = pd.DataFrame(
    {
        "text": [
            "refund my invoice please",  # billing rule
            "the parcel never arrived",  # delivery rule
            "invoice for the parcel",  # both rules: a conflict, a tie under majority
            "hello there",  # no rule
            "where is my parcel",  # delivery rule, but a human says billing
        ],
        "topic": [None, None, None, None, "billing"],
    }
)
RULES = [
    {"name": "billing_words", "label": "billing", "keywords": ["invoice", "refund"]},
    {"name": "delivery_words", "label": "delivery", "regex": r"\bparcel|arriv", "weight": 2},
]


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
    stats = weak.analysis(weak.votes(rules, MAIL, "text"), MAIL["topic"])
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


def test_annotations_win_over_column_and_rules_and_annotators_are_compared(tmp_path):
    ids = row_ids(MAIL, "topic", None)
    rows = [
        (ids[0], "delivery", "ana"),  # overrides the billing rule's vote
        (ids[0], "delivery", "bo"),
        (ids[3], "support", "ana"),  # labels a row no rule covered
        (ids[3], "billing", "bo"),  # … but the annotators tie: left to other sources
        (ids[4], "delivery", "ana"),  # overrides the column
        (ids[4], "delivery", "bo"),
        ("not-a-row", "billing", "ana"),
    ]
    path = tmp_path / "labels.csv"
    pd.DataFrame(rows, columns=["row_id", "label", "who"]).to_csv(path, index=False)
    spec = {"path": str(path), "annotator_column": "who"}
    frame, source, _, report = assign_labels(MAIL, "topic", label_params(annotations=[spec], rules=RULES), "text")
    assert frame["topic"].fillna("-").tolist() == ["delivery", "delivery", "-", "-", "delivery"]
    assert source.tolist() == ["annotation", "rule", None, None, "annotation"]
    found = report["annotations"]
    assert found["matched"] == 2 and found["overrode_column"] == 1 and found["annotator_ties"] == 1
    assert found["unmatched_keys"] == 1
    assert found["agreement"]["pairs"]["ana vs bo"]["rows"] == 3


def test_cohens_kappa_matches_its_definition():
    labels = pd.DataFrame(
        {
            "key": [str(i) for i in range(10)] * 2,
            "label": list("aaaaabbbbb") + list("aaaabbbbba"),
            "annotator": ["x"] * 10 + ["y"] * 10,
        }
    )
    # observed agreement 0.8, chance agreement 0.5: kappa = (0.8 - 0.5) / (1 - 0.5)
    assert annotations.agreement(labels)["pairs"]["x vs y"]["kappa"] == pytest.approx(0.6)


def test_a_label_studio_export_is_read_back(tmp_path):
    export = [
        {
            "id": 1,
            "data": {"row_id": "abc", "text": "hi"},
            "annotations": [
                {"completed_by": 7, "result": [{"from_name": "label", "value": {"choices": ["billing"]}}]},
                {"completed_by": 8, "was_cancelled": True, "result": []},
            ],
        }
    ]
    path = tmp_path / "export.json"
    path.write_text(json.dumps(export))
    spec = label_params(annotations=[{"path": str(path)}]).annotations[0]
    read = annotations.read(spec, 0)
    assert read.to_dict("records") == [{"key": "abc", "label": "billing", "annotator": "7"}]


def test_confident_learning_finds_flipped_labels():
    rng = np.random.default_rng(0)
    x = np.concatenate([rng.normal(-2, 1, (100, 2)), rng.normal(2, 1, (100, 2))])
    y = np.array([0] * 100 + [1] * 100)
    depth = x.sum(axis=1)  # flip rows deep inside their class's cluster: unmistakably mislabelled
    flipped = [*np.argsort(depth[:100])[:2], *(100 + np.argsort(-depth[100:])[:2])]
    y[flipped] = 1 - y[flipped]
    found, how = curation.suspects(x, y, ["a", "b"], "tabular", folds=5, seed=0)
    assert set(flipped) <= set(found["position"].head(6))
    assert "5-fold" in how and found["suspected"].isin(["a", "b"]).all()


def test_margin_sampling_picks_the_rows_on_the_boundary():
    rng = np.random.default_rng(1)
    x = np.concatenate([rng.normal(-3, 1, (50, 1)), rng.normal(3, 1, (50, 1))])
    y = np.array([0] * 50 + [1] * 50)
    pool = np.array([[-6.0], [0.05], [6.0], [-0.1], [3.0]])
    chosen, scores, _, _ = curation.most_informative(x, y, pool, "tabular", "margin", 2, seed=0)
    assert sorted(chosen.tolist()) == [1, 3] and (np.diff(scores) <= 0).all()


def test_the_review_scores_every_row_out_of_fold_with_each_fold_model_fitted_on_a_sample():
    rng = np.random.default_rng(3)
    x = np.concatenate([rng.normal(-2, 1, (600, 2)), rng.normal(2, 1, (600, 2))])
    y = np.array([0] * 600 + [1] * 600)
    y[[0, 1, 600, 601]] = 1 - y[[0, 1, 600, 601]]
    full = curation.out_of_fold_probabilities(x, y, 2, "tabular", 5, 0, fit_rows=10_000)
    sampled = curation.out_of_fold_probabilities(x, y, 2, "tabular", 5, 0, fit_rows=200)
    assert full.shape == sampled.shape == (1200, 2) and np.allclose(sampled.sum(axis=1), 1)
    assert not np.allclose(full, sampled)  # the sample really is smaller than the fold's rows
    assert np.mean(full.argmax(axis=1) == sampled.argmax(axis=1)) > 0.98
    found, how = curation.suspects(x, y, ["a", "b"], "tabular", folds=5, seed=0, fit_rows=200)
    assert "fitted on 200 sampled rows" in how
    assert {0, 1, 600, 601} <= set(found["position"].head(8))
