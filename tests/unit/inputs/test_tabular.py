"""Tabular encoding: standardised numbers, one-hot categories, unknown values named."""

import numpy as np
import pandas as pd
import pytest

from millrace.inputs.tabular import FeatureError, FeaturePlan, encode, encode_records, fit


def test_numeric_standardised_and_categories_one_hot():
    train = pd.DataFrame({"x": [1.0, 3.0], "c": ["b", "a"]})
    plan = fit(train, ["x", "c"])
    assert plan.categorical == {"c": ["a", "b"]}
    encoded = encode(train, plan)
    np.testing.assert_allclose(encoded, [[-1, 0, 1], [1, 1, 0]])
    assert FeaturePlan.from_json(plan.to_json()) == plan


def test_records_encode_as_their_frame_does():
    train = pd.DataFrame({"x": [1.0, 3.0, 2.5], "n": [1, 2, 2], "c": ["b", "a", "b"], "flag": [True, False, True]})
    plan = fit(train, ["x", "n", "c", "flag"])
    records = [{"x": 2.0, "n": 1, "c": "a", "flag": False}, {"x": "3.5", "n": 2.0, "c": "b", "flag": True}]
    np.testing.assert_array_equal(encode_records(records, plan), encode(pd.DataFrame.from_records(records), plan))
    assert encode_records(records, plan).dtype == np.float32


@pytest.mark.parametrize("through", ["frame", "records"])
def test_bad_records_are_explained(through):
    plan = fit(pd.DataFrame({"x": [1.0, 3.0], "c": ["b", "a"]}), ["x", "c"])

    def encode(frame):
        from millrace.inputs import tabular

        if through == "frame":
            return tabular.encode(frame, plan)
        return encode_records(frame.to_dict("records"), plan)

    with pytest.raises(FeatureError, match="unknown category 'z'"):
        encode(pd.DataFrame({"x": [1.0], "c": ["z"]}))
    with pytest.raises(FeatureError, match="missing features: \\['c'\\]"):
        encode(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(FeatureError, match="'c' is missing"):
        encode(pd.DataFrame({"x": [1.0], "c": [None]}))
    with pytest.raises(FeatureError, match="'x' needs a number, got 'tall' \\(row 1\\)"):
        encode(pd.DataFrame({"x": [2.0, "tall"], "c": ["a", "a"]}))
    for infinite in (float("inf"), -float("inf")):  # standardised, it would make every output NaN
        with pytest.raises(FeatureError, match="'x' needs a number, got -?inf"):
            encode(pd.DataFrame({"x": [infinite], "c": ["a"]}))


def test_text_columns_encode_alike_whatever_their_dtype_and_errors_name_the_position():
    plan = fit(pd.DataFrame({"c": ["b", "a", "c"]}), ["c"])
    index = [10, 20, 30, 40]  # not positions: the row named in an error is the position
    as_text = pd.DataFrame({"c": pd.Series(["c", "a", "b", "a"], index=index, dtype="str")})
    as_objects = as_text.astype({"c": object})
    assert isinstance(as_text["c"].dtype, pd.StringDtype) and as_objects["c"].dtype == object
    np.testing.assert_array_equal(encode(as_text, plan), encode(as_objects, plan))
    np.testing.assert_array_equal(encode(as_text, plan).argmax(1), [2, 0, 1, 0])
    for dtype in ("str", object):
        with pytest.raises(FeatureError, match="unknown category 'z' \\(row 2\\)"):
            encode(pd.DataFrame({"c": pd.Series(["a", "b", "z"], index=[5, 6, 7], dtype=dtype)}), plan)
        with pytest.raises(FeatureError, match="'c' is missing \\(row 1\\)"):
            encode(pd.DataFrame({"c": pd.Series(["a", None, "b"], index=[5, 6, 7], dtype=dtype)}), plan)


@pytest.mark.parametrize(
    "storage",
    ["pyarrow", "python", "pyarrow-chunked"],
)
def test_text_positions_agree_with_a_plain_lookup_whatever_the_storage(storage):
    import pyarrow as pa

    from millrace.inputs.tabular import text_positions

    values = ["b", None, "a", "zz", "b", "a"]
    if storage == "pyarrow-chunked":  # how a frame read from Parquet in row groups holds its text
        series = pd.Series(pd.arrays.ArrowStringArray(pa.chunked_array([values[:3], values[3:]], pa.large_string())))
    else:
        series = pd.Series(values, dtype=pd.StringDtype(storage))
    assert series.dtype.storage == storage.removesuffix("-chunked")
    vocabulary = ["a", "b", "c"]
    expected = [vocabulary.index(v) if v in vocabulary else -1 for v in values]
    positions = text_positions(series, vocabulary)
    assert positions.dtype == np.int64 and positions.tolist() == expected == [1, -1, 0, -1, 1, 0]
