"""The tree families (LightGBM, XGBoost, CatBoost): fitted with early stopping on validation, cut at the best
round, saved in the library's own format and loaded back to the same outputs, exported to one ONNX graph that
gives them, rows weighted so classes weigh alike, and a GPU asked for refused with the reason."""

import numpy as np
import onnxruntime
import pytest

from millrace.errors import MillraceError
from millrace.models import estimators, trees
from millrace.models.catalogue import FAMILIES
from millrace.sources.builtin import load_builtin
from tests.helpers.params import plan_for

FEATURES = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex"]


@pytest.fixture(scope="module")
def penguins_encoded():
    frame = load_builtin("penguins").dropna(subset=["species"]).sample(frac=1, random_state=0)
    plan = plan_for(frame.iloc[:240], FEATURES)
    features = plan.encode(frame)["features"]
    species = frame["species"].astype("category").cat.codes.to_numpy()
    flipper = frame["flipper_length_mm"].fillna(200).to_numpy(dtype=np.float64)
    return features, species, flipper


@pytest.mark.parametrize("family", ["lightgbm", "xgboost", "catboost"])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_a_tree_model_stops_early_saves_loads_and_exports_what_it_predicts(family, task, penguins_encoded, tmp_path):
    features, species, flipper = penguins_encoded
    target = species if task == "classification" else flipper
    spec = FAMILIES[family].sizes["medium"] | {"n_estimators": 400, "learning_rate": 0.3, "early_stopping_rounds": 10}
    spec |= {"learning_rate": 0.6} if family == "catboost" else {}  # its symmetric trees learn slower per round
    train, val = (features[:240], target[:240]), (features[240:], target[240:])
    model, curves, best = trees.fit(family, task, 3, spec, train, val, seed=0)
    assert len(curves["train"]) == len(curves["val"]) < 400  # stopped early, on the validation loss
    assert best == int(np.argmin(curves["val"])) + 1 and len(curves["val"]) == best + 10

    model.save(tmp_path)
    loaded = trees.TreeModel.load(tmp_path, family, task, 3)
    np.testing.assert_array_equal(loaded.outputs(features), model.outputs(features))
    assert model.nodes() > 0

    name = "probabilities" if task == "classification" else "prediction"
    graph = loaded.to_onnx(features.shape[1], "features", name)
    session = onnxruntime.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == [name]
    exported = session.run(None, {"features": features})[0]
    expected = model.outputs(features)
    assert exported.shape == ((len(features), 3) if task == "classification" else (len(features),))
    scale = np.maximum(np.abs(expected), 1.0)
    assert float((np.abs(exported - expected) / scale).max()) < 1e-5
    if task == "classification":
        assert np.allclose(exported.sum(axis=1), 1, atol=1e-5)
        assert (exported[240:].argmax(1) == species[240:]).mean() > 0.9


def test_the_model_saved_is_the_best_rounds_not_every_round_fitted(penguins_encoded, tmp_path):
    features, species, _ = penguins_encoded
    spec = FAMILIES["lightgbm"].sizes["medium"] | {
        "n_estimators": 400,
        "learning_rate": 0.3,
        "early_stopping_rounds": 10,
    }
    model, curves, best = trees.fit(
        "lightgbm", "classification", 3, spec, (features[:240], species[:240]), (features[240:], species[240:]), seed=0
    )
    assert model.model.num_trees() == 3 * best  # one tree per class and round, up to the best round only
    assert len(curves["val"]) > best


def test_balanced_weights_make_every_class_weigh_the_same():
    labels = np.array([0] * 90 + [1] * 9 + [2])
    weights = trees.balanced_weights(labels, 3)
    totals = [weights[labels == k].sum() for k in range(3)]
    assert np.allclose(totals, len(labels) / 3)


def test_a_gpu_is_refused_with_the_reason_and_the_cpu_is_not():
    estimators.refuse_accelerator("auto")
    estimators.refuse_accelerator("cpu")
    with pytest.raises(MillraceError, match=r"train.accelerator: gpu with a tree family: this machine has no CUDA GPU"):
        estimators.refuse_accelerator("gpu")
    with pytest.raises(MillraceError, match=r"with a linear family: this machine has no CUDA GPU \(scikit-learn\)"):
        estimators.refuse_accelerator("cuda", "linear")


@pytest.mark.parametrize("family", ["lightgbm", "xgboost", "catboost"])
def test_gain_is_summed_back_into_the_columns_it_came_from(family, penguins_encoded):
    frame = load_builtin("penguins").dropna(subset=["species"]).sample(frac=1, random_state=0)
    plan = plan_for(frame.iloc[:240], FEATURES)
    features, species, _ = penguins_encoded
    spec = FAMILIES[family].sizes["medium"] | {"n_estimators": 50, "early_stopping_rounds": 10}
    model, _, _ = trees.fit(
        family, "classification", 3, spec, (features[:240], species[:240]), (features[240:], species[240:]), seed=0
    )
    shares = estimators.importance_by_column(model, plan)
    assert set(shares) == set(FEATURES) and abs(sum(shares.values()) - 1) < 1e-3  # island's one-hot columns: one
    assert list(shares.values()) == sorted(shares.values(), reverse=True)
    assert max(shares, key=shares.get) in ("bill_length_mm", "flipper_length_mm", "bill_depth_mm")


@pytest.mark.parametrize("family", ["lightgbm", "xgboost", "catboost"])
def test_a_two_class_model_gives_both_classes_probabilities_in_the_library_and_the_graph(family, penguins_encoded):
    features, species, _ = penguins_encoded
    gentoo = (species == 2).astype(np.int64)
    spec = FAMILIES[family].sizes["medium"] | {"n_estimators": 50, "early_stopping_rounds": 10}
    model, _, _ = trees.fit(
        family, "classification", 2, spec, (features[:240], gentoo[:240]), (features[240:], gentoo[240:]), seed=0
    )
    expected = model.outputs(features)
    assert expected.shape == (len(features), 2) and np.allclose(expected.sum(axis=1), 1, atol=1e-6)
    graph = model.to_onnx(features.shape[1], "features", "probabilities")
    session = onnxruntime.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    assert np.abs(session.run(None, {"features": features})[0] - expected).max() < 1e-5


@pytest.mark.parametrize("family", ["lightgbm", "xgboost"])
@pytest.mark.parametrize("task", ["classification", "regression"])
def test_categorical_columns_are_split_natively_and_the_graph_reads_the_same_codes(family, task, tmp_path):
    import json

    from millrace.models.category_codes import CategoryCodes

    frame = load_builtin("penguins").dropna(subset=["species"]).sample(frac=1, random_state=0)
    plan = plan_for(frame.iloc[:240], FEATURES)
    features = plan.encode(frame)["features"]
    target = frame["species"].astype("category").cat.codes.to_numpy()
    if task == "regression":
        target = frame["body_mass_g"].fillna(4000).to_numpy(dtype=np.float64)
    codes = CategoryCodes.of(plan)
    assert len(codes.blocks) == 2 and codes.coded_width == features.shape[1] - sum(w for _, w in codes.blocks) + 2
    spec = FAMILIES[family].sizes["medium"] | {"n_estimators": 400, "learning_rate": 0.3, "early_stopping_rounds": 10}
    train, val = (features[:240], target[:240]), (features[240:], target[240:])
    model, _, _ = trees.fit(family, task, 3, spec, train, val, seed=0, codes=codes)
    if family == "lightgbm":
        assert '"decision_type": "=="' in json.dumps(model.model.dump_model())  # a split on a set of categories
    else:
        saved = json.loads(model.model.get_booster().save_raw("json"))["learner"]["gradient_booster"]["model"]
        assert any(1 in tree["split_type"] for tree in saved["trees"])

    probe = features.copy()
    start, width = codes.blocks[0]
    probe[::3, start : start + width] = 0  # an island it never saw (no bucket for it): the code is missing
    model.save(tmp_path)
    loaded = trees.TreeModel.load(tmp_path, family, task, 3, CategoryCodes.from_json(codes.to_json()))
    np.testing.assert_array_equal(loaded.outputs(probe), model.outputs(probe))
    name = "probabilities" if task == "classification" else "prediction"
    graph = loaded.to_onnx(features.shape[1], "features", name)  # still the plan's one-hot matrix
    session = onnxruntime.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    exported, expected = session.run(None, {"features": probe})[0], model.outputs(probe)
    assert float((np.abs(exported - expected) / np.maximum(np.abs(expected), 1.0)).max()) < 1e-5
    gains = model.gains(features.shape[1])
    assert gains.shape == (features.shape[1],) and (gains[start + 1 : start + width] == 0).all()  # the block's, once
