"""The linear family: logistic regression (balanced classes) or ridge regression on the plan's features, saved as
JSON coefficients that load back to the same outputs, exported to one ONNX graph that gives them."""

import numpy as np
import onnxruntime
import pytest

from millrace.errors import MillraceError
from millrace.models import estimators, linear
from millrace.models.catalogue import FAMILIES
from tests.unit.models.test_trees import FEATURES, penguins_encoded  # noqa: F401 (a fixture)


@pytest.mark.parametrize(("task", "classes"), [("classification", 3), ("classification", 2), ("regression", 1)])
def test_a_linear_model_saves_loads_and_exports_what_it_predicts(task, classes, penguins_encoded, tmp_path):  # noqa: F811
    features, species, flipper = penguins_encoded
    target = (species if classes == 3 else (species == 2).astype(np.int64)) if task == "classification" else flipper
    spec = FAMILIES["linear"].sizes["small"]
    model, curves, best = linear.fit(
        task, classes, spec, (features[:240], target[:240]), (features[240:], target[240:])
    )
    assert best == 1 and len(curves["train"]) == len(curves["val"]) == 1  # one fit, one point
    model.save(tmp_path)
    assert not any(tmp_path.glob("*.pkl")) and (tmp_path / linear.FILE).read_text().startswith("{")
    loaded = estimators.load(tmp_path, {"engine": "linear", "family": "linear", "task": task, "classes": [0] * classes})
    np.testing.assert_allclose(loaded.outputs(features), model.outputs(features), atol=1e-6)  # float32 last bits
    assert model.nodes() == (features.shape[1] + 1) * (classes if task == "classification" and classes > 2 else 1)

    name = "probabilities" if task == "classification" else "prediction"
    graph = loaded.to_onnx(features.shape[1], "features", name)
    session = onnxruntime.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    assert [o.name for o in session.get_outputs()] == [name]
    exported = session.run(None, {"features": features})[0]
    expected = model.outputs(features)
    assert exported.shape == ((len(features), classes) if task == "classification" else (len(features),))
    assert float((np.abs(exported - expected) / np.maximum(np.abs(expected), 1.0)).max()) < 1e-5
    if task == "classification":
        assert (exported[240:].argmax(1) == target[240:]).mean() > 0.9
    else:
        assert np.corrcoef(exported[240:], target[240:])[0, 1] > 0.8  # flipper length from the other measurements


def test_stronger_regularisation_shrinks_the_coefficients(penguins_encoded):  # noqa: F811
    features, species, _ = penguins_encoded
    data = (features[:240], species[:240]), (features[240:], species[240:])
    loose, _, _ = linear.fit("classification", 3, {"c": 10.0}, *data)
    tight, _, _ = linear.fit("classification", 3, {"c": 0.01}, *data)
    assert np.abs(tight.model.coef_).sum() < np.abs(loose.model.coef_).sum() / 5


def test_a_class_missing_from_the_training_rows_is_an_error_naming_it(penguins_encoded):  # noqa: F811
    features, species, _ = penguins_encoded
    keep = species[:240] != 1
    with pytest.raises(MillraceError, match="saw 2 of 3 classes"):
        linear.fit("classification", 3, {"c": 1.0}, (features[:240][keep], species[:240][keep]), (features, species))


def test_a_damaged_file_is_an_error_not_a_traceback(tmp_path):
    (tmp_path / linear.FILE).write_text("{not json")
    with pytest.raises(MillraceError, match="is damaged"):
        linear.LinearModel.load(tmp_path, "classification", 3)
