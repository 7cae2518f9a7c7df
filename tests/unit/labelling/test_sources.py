"""Where labels come from: annotations win over the column and the rules, and annotators are compared."""

from __future__ import annotations

import pandas as pd

from millrace.labelling.sources import assign_labels, row_ids
from tests.helpers.labelling import MAIL, RULES, label_params


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
