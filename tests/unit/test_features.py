import numpy as np
import pandas as pd
import pytest

from stages.features import FeatureError, FeaturePlan, encode, fit


def test_numeric_standardised_and_categories_one_hot():
    train = pd.DataFrame({"x": [1.0, 3.0], "c": ["b", "a"]})
    plan = fit(train, ["x", "c"])
    assert plan.categorical == {"c": ["a", "b"]}
    encoded = encode(train, plan)
    np.testing.assert_allclose(encoded, [[-1, 0, 1], [1, 1, 0]])
    assert FeaturePlan.from_json(plan.to_json()) == plan


def test_bad_records_are_explained():
    plan = fit(pd.DataFrame({"x": [1.0, 3.0], "c": ["b", "a"]}), ["x", "c"])
    with pytest.raises(FeatureError, match="unknown category 'z'"):
        encode(pd.DataFrame({"x": [1.0], "c": ["z"]}), plan)
    with pytest.raises(FeatureError, match="missing features: \\['c'\\]"):
        encode(pd.DataFrame({"x": [1.0]}), plan)
    with pytest.raises(FeatureError, match="'c' is missing"):
        encode(pd.DataFrame({"x": [1.0], "c": [None]}), plan)
    with pytest.raises(FeatureError, match="needs a number"):
        encode(pd.DataFrame({"x": ["tall"], "c": ["a"]}), plan)
