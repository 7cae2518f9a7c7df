"""The fitted table preprocessing: learnt from the training split only, applied alike to frames and records;
raw values (missing, stray spaces, unseen categories, dates, free text) encoded, not refused; values a
cleaning rule refuses or of the wrong type named."""

import numpy as np
import pandas as pd
import pytest

from millrace.config.params import Clean
from millrace.inputs.roles import infer_all
from millrace.inputs.tabular import FeatureError, FeaturePlan, fit, text_positions


def fitted(train: pd.DataFrame, **clean) -> FeaturePlan:
    return fit(train, infer_all(train, list(train.columns)), Clean(**clean))


def test_numbers_imputed_clipped_and_standardised_with_the_training_split_alone():
    train = pd.DataFrame({"x": [1.0, 2.0, 3.0, 4.0, np.nan, 100.0]})
    plan = fitted(train)
    column = plan.spec["columns"][0]
    assert column["fill"] == 3.0  # the training median
    low, high = column["clip"]
    assert high < 100  # the outlier is clipped to the training split's IQR bound
    encoded, counts = plan.encode_records_counted([{"x": None}, {"x": 1e9}, {"x": "2"}])
    values = encoded["features"][:, 0] * column["std"] + column["mean"]
    np.testing.assert_allclose(values, [3.0, high, 2.0], rtol=1e-5)
    assert counts.missing == {"x": 1} and counts.rows == {0: {"missing": ["x"]}}
    assert FeaturePlan.from_json(plan.to_json()) == plan


def test_categories_repaired_imputed_and_unseen_ones_counted_not_refused():
    train = pd.DataFrame({"c": ["b", "a", "b", None]})
    plan = fitted(train)
    assert plan.spec["columns"][0] | {"fill": None} == {
        "name": "c",
        "role": "categorical",
        "fill": None,
        "vocabulary": ["a", "b"],
        "other": False,
    }
    assert plan.spec["columns"][0]["fill"] == "b"  # the training mode
    encoded, counts = plan.encode_records_counted([{"c": " a "}, {"c": None}, {"c": "zebra"}])
    np.testing.assert_array_equal(encoded["features"], [[1, 0], [0, 1], [0, 0]])
    assert counts.missing == {"c": 1} and counts.unseen == {"c": 1}


def test_a_high_cardinality_column_keeps_its_commonest_values_and_buckets_the_rest():
    values = [f"v{i:03d}" for i in range(120)] + ["common"] * 30
    plan = fitted(pd.DataFrame({"c": values}))
    column = plan.spec["columns"][0]
    assert column["role"] == "high_cardinality" and column["other"] and "common" in column["vocabulary"]
    assert len(column["vocabulary"]) == 50
    encoded, counts = plan.encode_records_counted([{"c": "never seen"}, {"c": "common"}])
    assert encoded["features"][0, -1] == 1 and encoded["features"][0, :-1].sum() == 0  # the "other" bucket
    assert counts.unseen == {"c": 1}


def test_records_encode_as_their_frame_does():
    train = pd.DataFrame(
        {
            "x": [1.0, 3.0, 2.5, np.nan],
            "n": [1, 2, 2, 5],
            "c": ["b", "a", "b", "a"],
            "flag": [True, False, True, True],
            "when": pd.to_datetime(
                ["2024-01-05", "2024-03-01 10:00", "2023-07-09", "2024-12-31 23:00"], format="mixed"
            ),
        }
    )
    plan = fitted(train)
    records = [
        {"x": 2.0, "n": 1, "c": "a", "flag": False, "when": "2024-02-03T08:30:00"},
        {"x": "3.5", "n": 2.0, "c": "b ", "flag": True, "when": None},
    ]
    frame = pd.DataFrame.from_records(records).astype({"when": "datetime64[ns]"})
    from_records = plan.encode_records(records)["features"]
    np.testing.assert_array_equal(from_records, plan.encode(frame)["features"])
    assert from_records.dtype == np.float32 and from_records.shape[1] == plan.width


def test_date_parts_are_the_calendar_ones():
    from millrace.inputs.table_transform import date_parts

    moments = np.array(["2024-02-29T13:45:00", "1969-12-31T23:00:00", "NaT"], dtype="datetime64[s]")
    parts = date_parts(moments)
    assert parts["year"][:2].tolist() == [2024, 1969] and parts["month"][:2].tolist() == [2, 12]
    assert parts["day"][:2].tolist() == [29, 31] and parts["hour"][:2].tolist() == [13, 23]
    assert parts["weekday"][:2].tolist() == [3, 2]  # a Thursday and a Wednesday (Monday is 0)
    assert all(np.isnan(parts[p][2]) for p in parts)


def test_free_text_is_the_same_tf_idf_scikit_learn_computes():
    from sklearn.feature_extraction.text import TfidfVectorizer

    texts = [
        f"{a} {b} {c}"
        for a in ("the parcel", "my refund", "a payment")
        for b in ("never arrived", "was late", "arrived broken")
        for c in ("today", "again")
    ]
    train = pd.DataFrame({"notes": texts, "x": range(18)})
    plan = fit(train, infer_all(train, ["notes"]), Clean())
    assert plan.roles == {"notes": "text"}
    new = ["The PARCEL arrived, finally", "nothing known here", None]
    encoded, counts = plan.encode_records_counted([{"notes": t} for t in new])
    reference = TfidfVectorizer(max_features=500).fit(texts)
    expected = reference.transform([t or "" for t in new]).toarray()
    np.testing.assert_allclose(encoded["features"], expected, atol=1e-6)
    assert counts.missing == {"notes": 1}


@pytest.mark.parametrize("through", ["frame", "records"])
def test_bad_records_are_explained(through):
    train = pd.DataFrame({"x": [1.0, 3.0, 2.0], "c": ["b", "a", "b"]})
    plan = fit(
        train,
        infer_all(train, ["x", "c"]),
        Clean(filters={"c": {"allowed": ["a", "b"]}, "x": {"min": 0, "max": 10}}, missing={"columns": {"x": "drop"}}),
    )

    def encode(frame):
        if through == "frame":
            return plan.encode(frame)
        return plan.encode_records(frame.to_dict("records"))

    with pytest.raises(FeatureError, match="clean.filters.c: c='z' is not an allowed value \\(row 0\\)"):
        encode(pd.DataFrame({"x": [1.0], "c": ["z"]}))
    with pytest.raises(FeatureError, match="clean.filters.x: x=11 is outside \\[0, 10\\] \\(row 1\\)"):
        encode(pd.DataFrame({"x": [1.0, 11.0], "c": ["a", "a"]}))
    with pytest.raises(FeatureError, match="clean.missing.columns.x: 'x' must not be missing"):
        encode(pd.DataFrame({"x": [None], "c": ["a"]}, dtype=object))
    with pytest.raises(FeatureError, match="missing features: \\['c'\\]"):
        encode(pd.DataFrame({"x": [1.0]}))
    with pytest.raises(FeatureError, match="'x' needs a number, got 'tall' \\(row 1\\)"):
        encode(pd.DataFrame({"x": [2.0, "tall"], "c": ["a", "a"]}))
    with pytest.raises(FeatureError, match="clean.filters.x: x=inf is outside"):  # rules are checked first
        encode(pd.DataFrame({"x": [float("inf")], "c": ["a"]}))
    unruled = fitted(train)
    for infinite in (float("inf"), -float("inf")):  # standardised, it would make every output NaN
        with pytest.raises(FeatureError, match="'x' needs a number, got -?inf"):
            unruled.encode(pd.DataFrame({"x": [infinite], "c": ["a"]}))


def test_text_columns_encode_alike_whatever_their_dtype():
    plan = fitted(pd.DataFrame({"c": ["b", "a", "c"]}))
    index = [10, 20, 30, 40]
    as_text = pd.DataFrame({"c": pd.Series(["c", "a", "b", "a"], index=index, dtype="str")})
    as_objects = as_text.astype({"c": object})
    assert isinstance(as_text["c"].dtype, pd.StringDtype) and as_objects["c"].dtype == object
    np.testing.assert_array_equal(plan.encode(as_text)["features"], plan.encode(as_objects)["features"])
    np.testing.assert_array_equal(plan.encode(as_text)["features"].argmax(1), [2, 0, 1, 0])


def test_a_plan_from_before_the_fitted_preprocessing_is_refused_with_a_reason():
    from millrace.errors import MillraceError

    with pytest.raises(MillraceError, match="retrain"):
        FeaturePlan.from_json({"kind": "tabular", "numeric": {"x": [0, 1]}, "categorical": {}})


@pytest.mark.parametrize("storage", ["pyarrow", "python", "pyarrow-chunked"])
def test_text_positions_agree_with_a_plain_lookup_whatever_the_storage(storage):
    import pyarrow as pa

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
