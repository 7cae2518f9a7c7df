"""The text plan: the bundled tokenizer round-trips, non-strings are refused, free text is recognised."""

import numpy as np
import pandas as pd
import pytest

from millrace.inputs import plans, texts
from millrace.inputs.tabular import FeatureError
from tests.helpers.params import plan_for


def test_text_plan_tokenises_with_the_bundled_tokenizer_and_round_trips(tmp_path):
    frame = pd.DataFrame({"text": ["the parcel never arrived at my door, " * 3, "refund please, " * 4]})
    assert plans.data_kind(frame, ["text"]) == ("text", "text")
    plan = plan_for(frame, ["text"], text={"max_length": 12})
    encoded = plan.encode(frame)
    assert encoded["input_ids"].shape == (2, 12) and encoded["attention_mask"].dtype == np.int64
    assert encoded["input_ids"][0, 0] == 101  # [CLS]: the tokenizer MiniLM was trained with
    plans.save(plan, tmp_path)
    assert (tmp_path / texts.TOKENIZER_FILE).exists()
    again = plans.load(tmp_path)
    np.testing.assert_array_equal(again.encode(frame)["input_ids"], encoded["input_ids"])


def test_text_plan_refuses_a_non_string():
    plan = texts.fit("text", 16)
    with pytest.raises(FeatureError, match=r"needs text, got 5 \(row 1\)"):
        plan.encode(pd.DataFrame({"text": ["fine", 5]}))


def test_only_columns_of_long_strings_are_free_text():
    from millrace.inputs.texts import text_columns

    long = ["a sentence long enough to count as free text, not as a category label"] * 3
    frame = pd.DataFrame(
        {
            "number": [1.5, 2.5, 3.5],
            "sentence": long,
            "sentence_category": pd.Series(long, dtype="category"),
            "short": ["red", "green", "blue"],
            "mixed": [long[0], 3, None],
        }
    )
    assert text_columns(frame, list(frame.columns)) == ["sentence", "sentence_category"]
