"""Gradient-boosted trees (LightGBM, XGBoost, CatBoost) on the fitted input plan's features: fit with early
stopping on the validation split, saved in the library's own format (never a pickle), exported to ONNX.

The trees read exactly what the MLP reads: the plan's one float matrix (imputed, clipped, one-hot, TF-IDF),
so the deployed graph takes the same input and the same preprocessing runs in front of it. A family of this
engine sets `engine="tree"` in the catalogue; its size options are the library's own (`n_estimators`,
`learning_rate`, `num_leaves`, `max_depth` or `depth`, `early_stopping_rounds`), and `class_weight: balanced`
weighs each training row by the inverse of its class's share. LightGBM and XGBoost read each categorical
column's one-hot block back as one column of category codes and split on it natively, in training and in the
deployed graph alike (millrace/models/category_codes.py); CatBoost reads the one-hot blocks, as its ONNX export
takes numeric features only.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from millrace.errors import MillraceError
from millrace.models.category_codes import CategoryCodes
from millrace.models.onnx_output import ONNX_OPSET, single_output

FILES = {"lightgbm": "model.lightgbm.txt", "xgboost": "model.xgboost.json", "catboost": "model.catboost.cbm"}
NATIVE_CATEGORIES = ("lightgbm", "xgboost")  # the libraries whose ONNX converters handle categorical splits


def _library(family: str) -> str:
    library = family.split("_")[0]
    if library not in FILES:
        raise MillraceError(f"{family!r} is not a tree family ({', '.join(FILES)})")
    return library


@dataclass
class TreeModel:
    library: str  # lightgbm | xgboost | catboost
    task: str  # classification | regression
    classes: int
    model: Any  # a fitted LightGBM Booster, or an XGBoost or CatBoost scikit-learn estimator
    codes: CategoryCodes | None = None  # the plan's one-hot blocks, read as category codes (LightGBM, XGBoost)

    def outputs(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities (N × classes) or values (N), float32, as the exported graph gives them."""
        if self.codes is not None:
            features = self.codes.apply(features)
        probabilities = self.library != "lightgbm" and self.task == "classification"
        raw = np.asarray(self.model.predict_proba(features) if probabilities else self.model.predict(features))
        if self.task == "classification" and raw.ndim == 1:  # LightGBM's binary model: P(class 1)
            raw = np.stack([1 - raw, raw], axis=1)
        return raw.astype(np.float32)

    def save(self, out: Path) -> Path:
        path = out / FILES[self.library]
        self.model.save_model(str(path))
        return path

    @classmethod
    def load(
        cls, directory: Path, family: str, task: str, classes: int, codes: CategoryCodes | None = None
    ) -> TreeModel:
        library = _library(family)
        path = directory / FILES[library]
        if not path.is_file():
            raise MillraceError(f"no trained model at {path}; run the train stage first")
        try:
            if library == "lightgbm":
                import lightgbm

                model: Any = lightgbm.Booster(model_file=str(path))
            elif library == "catboost":
                import catboost

                model = catboost.CatBoostRegressor() if task == "regression" else catboost.CatBoostClassifier()
                model.load_model(str(path))
            else:
                import xgboost

                model = xgboost.XGBRegressor() if task == "regression" else xgboost.XGBClassifier()
                model.load_model(str(path))
        except Exception as exc:  # each library raises its own error type for a damaged file
            raise MillraceError(f"{path} is damaged: {exc}; rerun the train stage") from None
        return cls(library, task, classes, model, codes)

    def nodes(self) -> int:
        """How many tree nodes the model holds: its size, as parameters are a network's."""
        if self.library == "lightgbm":
            return int(sum(2 * t["num_leaves"] - 1 for t in self.model.dump_model()["tree_info"]))
        if self.library == "catboost":  # symmetric trees: every tree of depth d has 2^(d+1) - 1 nodes
            return int(self.model.tree_count_ * (2 ** (self.model.get_all_params()["depth"] + 1) - 1))
        return int(sum(tree.count("\n") for tree in self.model.get_booster().get_dump()))  # a line per node

    def gains(self, width: int) -> np.ndarray:
        """Each encoded feature's total split gain (its contribution to the loss reduction); a categorical
        column's at the first position of its one-hot block."""
        if self.codes is not None:
            return self.codes.spread(self._gains(self.codes.coded_width))
        return self._gains(width)

    def _gains(self, width: int) -> np.ndarray:
        if self.library == "lightgbm":
            return np.asarray(self.model.feature_importance(importance_type="gain"), dtype=np.float64)
        if self.library == "catboost":  # how much each feature moves the prediction: CatBoost's gain without data
            return np.asarray(self.model.get_feature_importance(type="PredictionValuesChange"), dtype=np.float64)
        found = self.model.get_booster().get_score(importance_type="total_gain")
        return np.array([found.get(f"f{i}", 0.0) for i in range(width)], dtype=np.float64)

    def to_onnx(self, width: int, input_name: str, output_name: str):
        """The ONNX graph: one float input of `width` features, one output (probabilities, or values of shape N)."""
        import warnings

        from onnxmltools import convert_lightgbm, convert_xgboost
        from onnxmltools.convert.common.data_types import FloatTensorType

        if self.library == "catboost":
            return single_output(catboost_graph(self.model, input_name), output_name, self.task)
        coded = self.codes is not None
        inner = f"{input_name}_coded" if coded else input_name
        types = [(inner, FloatTensorType([None, self.codes.coded_width if coded else width]))]
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            if self.library == "lightgbm":
                graph = convert_lightgbm(self.model, initial_types=types, zipmap=False, target_opset=ONNX_OPSET)
            else:
                graph = convert_xgboost(self.model, initial_types=types, target_opset=ONNX_OPSET)
        if coded:
            graph = self.codes.prepend(graph, input_name)
        return single_output(graph, output_name, self.task)


def catboost_graph(model, input_name: str):
    """CatBoost's own ONNX export, its input renamed and its ZipMap (a list of dicts per row) taken out so that the
    probabilities come as one float tensor, like the other libraries' graphs."""
    import tempfile

    import onnx

    with tempfile.TemporaryDirectory(prefix="millrace-catboost-") as folder:
        path = Path(folder) / "model.onnx"
        model.save_model(str(path), format="onnx")
        graph = onnx.load(str(path))
    old = graph.graph.input[0].name
    graph.graph.input[0].name = input_name
    for node in graph.graph.node:
        node.input[:] = [input_name if i == old else i for i in node.input]
    for node in [n for n in graph.graph.node if n.op_type == "ZipMap"]:
        (probabilities,) = node.input
        graph.graph.node.remove(node)
        for output in graph.graph.output:
            if output.name == node.output[0]:
                graph.graph.output.remove(output)
                graph.graph.output.append(onnx.helper.make_tensor_value_info(probabilities, 1, [None, None]))
    return graph


def balanced_weights(labels: np.ndarray, classes: int) -> np.ndarray:
    """Each row weighted by the inverse of its class's share: every class weighs the same in total."""
    counts = np.bincount(labels, minlength=classes).astype(np.float64)
    return (len(labels) / (classes * np.maximum(counts, 1)))[labels]


def fit(
    family: str,
    task: str,
    classes: int,
    spec: dict[str, Any],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    seed: int,
    codes: CategoryCodes | None = None,
) -> tuple[TreeModel, dict[str, list[float]], int]:
    """Fit on the training split, stopping when the validation loss has not improved for
    `early_stopping_rounds` rounds; return the model cut at its best round, the per-round train and
    validation losses, and that best round (1-based). `codes`: the plan's one-hot blocks, which LightGBM and
    XGBoost read as category codes (CatBoost ignores them)."""
    library = _library(family)
    codes = codes if library in NATIVE_CATEGORIES else None
    if codes is not None:
        train, val = (codes.apply(train[0]), train[1]), (codes.apply(val[0]), val[1])
    categorical = codes.categorical if codes is not None else []
    weights = None
    if task == "classification" and spec.get("class_weight") == "balanced":
        weights = balanced_weights(train[1].astype(np.int64), classes)
    threads = max(1, len(os.sched_getaffinity(0)))
    if library == "lightgbm":
        model, curves, best = _fit_lightgbm(task, classes, spec, train, val, weights, seed, threads, categorical)
    elif library == "catboost":
        model, curves, best = _fit_catboost(task, spec, train, val, weights, seed, threads)
    else:
        model, curves, best = _fit_xgboost(task, spec, train, val, weights, seed, threads, categorical)
    return TreeModel(library, task, classes, model, codes), curves, best


def _fit_lightgbm(task, classes, spec, train, val, weights, seed, threads, categorical):
    import lightgbm

    options = {
        "n_estimators": spec["n_estimators"],
        "learning_rate": spec["learning_rate"],
        "num_leaves": spec["num_leaves"],
        "min_child_samples": spec["min_child_samples"],
        "colsample_bytree": spec.get("colsample_bytree", 1.0),
        "reg_lambda": spec.get("reg_lambda", 0.0),
        # LightGBM's default floor for a category group is 100 rows, more than a small table's categories hold:
        # a leaf's floor instead.
        "min_data_per_group": spec["min_child_samples"],
        "random_state": seed,
        "n_jobs": threads,
        "deterministic": True,
        "force_row_wise": True,
        "verbose": -1,
    }
    estimator = lightgbm.LGBMRegressor(**options) if task == "regression" else lightgbm.LGBMClassifier(**options)
    recorded: dict[str, Any] = {}
    callbacks = [
        lightgbm.early_stopping(spec["early_stopping_rounds"], verbose=False),
        lightgbm.record_evaluation(recorded),
    ]
    estimator.fit(
        train[0],
        train[1],
        sample_weight=weights,
        eval_X=(train[0], val[0]),
        eval_y=(train[1], val[1]),
        callbacks=callbacks,
        categorical_feature=categorical or "auto",
    )
    best = int(estimator.best_iteration_ or estimator.n_estimators_)
    first, second = recorded.values()  # in eval order: the training split ("training" or "valid_0"), then val
    curves = {"train": next(iter(first.values())), "val": next(iter(second.values()))}
    # The saved model ends at the best round, so the file, LightGBM and the ONNX graph agree.
    text = float32_thresholds(estimator.booster_.model_to_string(num_iteration=best))
    return lightgbm.Booster(model_str=text), curves, best


def float32_thresholds(model: str) -> str:
    """LightGBM's split thresholds rounded down to float32, which changes no decision on float32 features.

    LightGBM compares a feature with a double threshold; ONNX's tree operators hold float thresholds, so a
    threshold between two float32 values would round, and a row at that value would take the other branch in
    the deployed graph (seen on 2 of 344 penguins). For a float32 x, x <= t holds exactly when x <= the largest
    float32 not above t: with that threshold both runtimes decide alike.
    """

    def down(value: str) -> str:
        exact = float(value)
        single = np.float32(exact)
        if float(single) > exact:
            single = np.nextafter(single, np.float32(-np.inf))
        return repr(float(single))

    lines = model.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("threshold="):
            lines[i] = "threshold=" + " ".join(down(v) for v in line[len("threshold=") :].split())
    # tree_sizes lists each tree's length in bytes, which the new thresholds change; without it, LightGBM reads
    # the trees one after the other.
    return "\n".join(line for line in lines if not line.startswith("tree_sizes="))


def _fit_xgboost(task, spec, train, val, weights, seed, threads, categorical):
    import xgboost

    options = {
        "n_estimators": spec["n_estimators"],
        "learning_rate": spec["learning_rate"],
        "max_depth": spec["max_depth"],
        "min_child_weight": spec.get("min_child_weight", 1.0),
        "subsample": spec.get("subsample", 1.0),
        "colsample_bytree": spec.get("colsample_bytree", 1.0),
        "reg_lambda": spec.get("reg_lambda", 1.0),
        "early_stopping_rounds": spec["early_stopping_rounds"],
        "tree_method": "hist",
        "random_state": seed,
        "n_jobs": threads,
    }
    if categorical:
        width = train[0].shape[1]
        options |= {
            "enable_categorical": True,
            "feature_types": ["c" if i in categorical else "q" for i in range(width)],
        }
    estimator = xgboost.XGBRegressor(**options) if task == "regression" else xgboost.XGBClassifier(**options)
    estimator.fit(train[0], train[1], sample_weight=weights, eval_set=[train, val], verbose=False)
    found = estimator.evals_result()
    curves = {"train": next(iter(found["validation_0"].values())), "val": next(iter(found["validation_1"].values()))}
    best = int(estimator.best_iteration) + 1
    # Cut at the best round and reloaded, so the file, XGBoost and the ONNX graph hold the same trees.
    import tempfile

    with tempfile.TemporaryDirectory(prefix="millrace-xgb-") as folder:
        path = Path(folder) / "model.json"
        estimator.get_booster()[:best].save_model(str(path))
        cut = xgboost.XGBRegressor() if task == "regression" else xgboost.XGBClassifier()
        cut.load_model(str(path))
    return cut, curves, best


def _fit_catboost(task, spec, train, val, weights, seed, threads):
    import catboost

    options = {
        "iterations": spec["n_estimators"],
        "learning_rate": spec["learning_rate"],
        "depth": spec["depth"],
        "l2_leaf_reg": spec.get("l2_leaf_reg", 3.0),
        "od_type": "Iter",
        "od_wait": spec["early_stopping_rounds"],
        "use_best_model": True,  # the fitted model ends at the best round
        "random_seed": seed,
        "thread_count": threads,
        "verbose": 0,
        "allow_writing_files": False,  # no catboost_info/ folder in the working directory
    }
    estimator = (
        catboost.CatBoostRegressor(**options) if task == "regression" else catboost.CatBoostClassifier(**options)
    )
    estimator.fit(train[0], train[1], sample_weight=weights, eval_set=val)
    found = estimator.get_evals_result()
    curves = {"train": next(iter(found["learn"].values())), "val": next(iter(found["validation"].values()))}
    return estimator, curves, int(estimator.get_best_iteration()) + 1
