"""Human annotations: Cohen's kappa as defined, a Label Studio export read back."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from millrace.labelling import annotations
from tests.helpers.params import parse


def label_params(**label):
    return parse({"label": label}).label


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
