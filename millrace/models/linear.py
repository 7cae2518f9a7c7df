"""A linear model on the fitted input plan's features: logistic regression for classes, ridge regression for
values (scikit-learn), the simple baseline every table deserves in the portfolio.

The plan's features are already imputed, clipped, standardised and one-hot encoded, so the model needs nothing
more. `c` is the inverse regularisation strength (ridge's alpha is 1 / c); `class_weight: balanced` weighs
classes alike. The fit has no rounds: its "curve" is one point, the training and validation loss. The model is
saved as its coefficients in JSON (never a pickle) and exported to ONNX with skl2onnx.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from millrace.errors import MillraceError

FILE = "model.linear.json"


@dataclass
class LinearModel:
    task: str  # classification | regression
    classes: int
    model: Any  # a fitted scikit-learn LogisticRegression or Ridge

    def outputs(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities (N × classes) or values (N), float32, as the exported graph gives them."""
        if self.task == "classification":
            return self.model.predict_proba(features).astype(np.float32)
        return self.model.predict(features).astype(np.float32)

    def save(self, out: Path) -> Path:
        path = out / FILE
        state = {
            "coef": self.model.coef_.tolist(),
            "intercept": np.atleast_1d(self.model.intercept_).tolist(),
            "options": {k: v for k, v in self.model.get_params().items() if isinstance(v, (int, float, str))},
        }
        path.write_text(json.dumps(state) + "\n")
        return path

    @classmethod
    def load(cls, directory: Path, task: str, classes: int) -> LinearModel:
        path = directory / FILE
        if not path.is_file():
            raise MillraceError(f"no trained model at {path}; run the train stage first")
        try:
            state = json.loads(path.read_text())
            model = _estimator(task, state["options"])
            model.coef_ = np.asarray(state["coef"], dtype=np.float64)
            model.intercept_ = np.asarray(state["intercept"], dtype=np.float64)
            if task == "classification":
                model.classes_ = np.arange(classes)
            else:
                model.coef_, model.intercept_ = model.coef_.ravel(), float(model.intercept_[0])
            model.n_features_in_ = model.coef_.shape[-1]
        except (ValueError, KeyError, TypeError) as exc:
            raise MillraceError(f"{path} is damaged: {exc}; rerun the train stage") from None
        return cls(task, classes, model)

    def nodes(self) -> int:
        """How many coefficients the model holds (intercepts included)."""
        return int(np.size(self.model.coef_) + np.size(self.model.intercept_))

    def gains(self, width: int) -> np.ndarray:
        """Each encoded feature's weight: the sum of its absolute coefficients (the features are standardised)."""
        return np.abs(np.atleast_2d(self.model.coef_)).sum(axis=0).astype(np.float64)

    def to_onnx(self, width: int, input_name: str, output_name: str):
        """The ONNX graph: one float input of `width` features, one output (probabilities, or values of shape N)."""
        from skl2onnx import convert_sklearn
        from skl2onnx.common.data_types import FloatTensorType

        from millrace.models.onnx_output import ONNX_OPSET, single_output

        options = {id(self.model): {"zipmap": False}} if self.task == "classification" else None
        graph = convert_sklearn(
            self.model,
            initial_types=[(input_name, FloatTensorType([None, width]))],
            options=options,
            target_opset=ONNX_OPSET,
        )
        return single_output(graph, output_name, self.task)


def _estimator(task: str, options: dict[str, Any]):
    from sklearn.linear_model import LogisticRegression, Ridge

    if task == "classification":
        return LogisticRegression(**{k: v for k, v in options.items() if k in ("C", "class_weight", "max_iter")})
    return Ridge(**{k: v for k, v in options.items() if k == "alpha"})


def fit(
    task: str,
    classes: int,
    spec: dict[str, Any],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
) -> tuple[LinearModel, dict[str, list[float]], int]:
    """Fit on the training split; return the model, its training and validation loss (one point each: a
    linear fit has no rounds) and 1, its one "round"."""
    from sklearn.metrics import log_loss, mean_squared_error

    c = float(spec["c"])
    if task == "classification":
        weight = "balanced" if spec.get("class_weight") == "balanced" else None
        model = _estimator(task, {"C": c, "class_weight": weight, "max_iter": spec.get("max_iter", 1000)})
        model.fit(train[0], train[1])
        labels = list(range(classes))
        if len(model.classes_) != classes:
            raise MillraceError(
                f"the linear model saw {len(model.classes_)} of {classes} classes in the training split; "
                "every class needs training rows (see data.min_class_share)"
            )

        def loss(x, y):
            return float(log_loss(y, model.predict_proba(x), labels=labels))

    else:
        model = _estimator(task, {"alpha": 1.0 / c})
        model.fit(train[0], train[1])

        def loss(x, y):
            return float(mean_squared_error(y, model.predict(x)))

    return LinearModel(task, classes, model), {"train": [loss(*train)], "val": [loss(*val)]}, 1
