"""Which kind of data a model sees, and what is said when declared features do not fit that kind."""

import numpy as np
import pandas as pd
import pytest

from millrace.inputs import images, plans, texts
from tests.helpers.params import data, plan_for


def _frame(n=4, size=8):
    pixels = [np.full((size, size), 40 * i, np.uint8) for i in range(n)]
    return pd.DataFrame({"image": [images.png_bytes(p) for p in pixels], "y": list("abab")[:n]})


def test_image_or_text_data_with_extra_declared_features_is_explained():
    frame = _frame().assign(extra=1.0)
    with pytest.raises(Exception, match=r"reads the image column 'image' only.*\['extra'\]"):
        plan_for(frame, ["image", "extra"])


def test_a_declared_text_source_is_text_however_short():
    from millrace.config.params import TextSource

    frame = pd.DataFrame({"tweet": ["ok", "bad", "meh"]})
    assert plans.data_kind(frame, ["tweet"])[0] == "tabular"  # short strings look like categories
    declared = data(source=TextSource(kind="text", path="x.csv", text_column="tweet"))
    assert isinstance(plan_for(frame, ["tweet"], source=declared.source), texts.TextPlan)
