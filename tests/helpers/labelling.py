"""Labelling test data: five support mails, two labelling rules, and label params built from keyword arguments."""

from __future__ import annotations

import pandas as pd

from tests.helpers.params import parse

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


def label_params(**label):
    return parse({"label": label}).label
