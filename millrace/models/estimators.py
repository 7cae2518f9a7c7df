"""Models that are not one torch module: gradient-boosted trees (engine "tree", millrace/models/trees.py), the
linear model (engine "linear", millrace/models/linear.py) and a weighted ensemble of trained models (engine
"ensemble", millrace/models/ensemble.py).

Each fitted model offers the same five things: `outputs` (probabilities or values, as its ONNX graph gives
them), `save` in its library's own non-pickle format, `nodes` (its size), `gains` (each encoded feature's
importance) and `to_onnx`. This module is the one place that knows which class implements which engine, and
`Estimator` is these engines' implementation of millrace/models/engines.py's contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from millrace.errors import MillraceError

ENGINES = ("tree", "linear", "ensemble")
CURVE = {"classification": "log loss", "regression": "squared error"}  # what the per-round curves measure
IMPORTANCE = {
    "tree": "share of split gain",
    "linear": "share of absolute coefficients",
    "ensemble": "the members' importance shares, weighted; networks have none",
}


def refuse_accelerator(accelerator: str, engine: str = "tree") -> None:
    """The locked tree libraries and scikit-learn train on the CPU here; asking for a GPU is refused, saying why."""
    if accelerator in ("auto", "cpu"):
        return
    import torch

    where = "this machine has no CUDA GPU" if not torch.cuda.is_available() else "the locked builds are CPU-only"
    builds = "lightgbm, xgboost-cpu, catboost" if engine == "tree" else "scikit-learn"
    raise MillraceError(
        f"train.accelerator: {accelerator} with a {engine} family: {where} ({builds}); "
        "set train.accelerator: auto or cpu"
    )


def is_estimator(meta: dict[str, Any]) -> bool:
    """The trained model (its model.json) comes from a family of one of these engines."""
    return meta.get("engine") in ENGINES


def model_file(meta: dict[str, Any]) -> str:
    """The file name that holds the fitted model (an ensemble's: its weights; its members lie beside it)."""
    if meta["engine"] == "ensemble":
        from millrace.models.ensemble import FILE

        return FILE
    if meta["engine"] == "linear":
        from millrace.models.linear import FILE

        return FILE
    from millrace.models.trees import FILES, _library

    return FILES[_library(meta["family"])]


def load(directory: Path, meta: dict[str, Any]):
    """A tree or linear model (an ensemble's members are train folders: `Estimator.load` loads it)."""
    if meta["engine"] == "linear":
        from millrace.models.linear import LinearModel

        return LinearModel.load(directory, meta["task"], len(meta["classes"]))
    from millrace.models.category_codes import CategoryCodes
    from millrace.models.trees import TreeModel

    codes = CategoryCodes.from_json(meta.get("category_codes"))
    return TreeModel.load(directory, meta["family"], meta["task"], len(meta["classes"]), codes)


def fit(
    engine: str,
    family: str,
    task: str,
    classes: int,
    spec: dict[str, Any],
    train: tuple[np.ndarray, np.ndarray],
    val: tuple[np.ndarray, np.ndarray],
    seed: int,
    codes=None,
):
    """Fit on the training split, the validation split stopping the rounds; return the model, the per-round
    training and validation losses and the best round (1-based). `codes` (millrace/models/category_codes.py):
    the plan's one-hot blocks, for the tree libraries that split on categories natively."""
    if engine == "linear":
        from millrace.models import linear

        return linear.fit(task, classes, spec, train, val)
    from millrace.models import trees

    return trees.fit(family, task, classes, spec, train, val, seed, codes)


def importance_by_column(model, plan) -> dict[str, float]:
    """Each input column's share of the model's importance (`gains`), largest first: a column's one-hot,
    date-part or TF-IDF positions summed back into the column they came from."""
    from millrace.inputs.table_transform import column_width

    gains = model.gains(plan.width)
    shares: dict[str, float] = {}
    at = 0
    for column in plan.transform.columns:
        width = column_width(column)
        shares[column["name"]] = float(gains[at : at + width].sum())
        at += width
    total = sum(shares.values()) or 1.0
    return {name: round(gain / total, 4) for name, gain in sorted(shares.items(), key=lambda kv: -kv[1])}


class Estimator:
    """The engine of the tree, linear and ensemble families: one feature matrix in, the library's model inside."""

    batch_rows = None  # the whole frame at once: a table encodes to one matrix

    def load(self, train_dir: Path, meta: dict[str, Any], plan, load_folder):
        """The fitted model; an ensemble's members are train folders that `load_folder` reads."""
        if meta["engine"] != "ensemble":
            return load(train_dir, meta)
        from millrace.models.ensemble import MEMBERS, EnsembleModel, read_weights

        weights = read_weights(train_dir)
        members = [load_folder(train_dir / MEMBERS / str(i)) for i in range(len(weights))]
        return EnsembleModel(meta["task"], len(meta["classes"]), members, weights)

    def outputs(self, trained, encoded: dict[str, np.ndarray]) -> np.ndarray:
        return trained.backbone.outputs(encoded[trained.plan.input_names[0]])

    def size(self, trained) -> int:
        return int(trained.backbone.nodes())

    def importance(self, trained) -> dict[str, Any]:
        kind = IMPORTANCE[trained.meta["engine"]]
        return {"kind": kind, "features": importance_by_column(trained.backbone, trained.plan)}

    def gains(self, trained, width: int) -> np.ndarray:
        return trained.backbone.gains(width)

    def saved_file(self, train_dir: Path, meta: dict[str, Any]) -> Path:
        return Path(train_dir) / model_file(meta)

    def model_size(self, trained, train_dir: Path) -> dict[str, Any]:
        """The nodes (trees), coefficients (linear) or both summed (a blend); the bytes of the files saved."""
        saved = self.saved_file(train_dir, trained.meta).stat().st_size
        if trained.meta["engine"] == "ensemble":  # and its members' files
            from millrace.models.ensemble import MEMBERS

            members = enumerate(trained.backbone.members)
            saved += sum(m.model_size(Path(train_dir) / MEMBERS / str(i))["saved_bytes"] for i, m in members)
        nodes = trained.meta["nodes"]
        return {"parameters": nodes, "trainable_parameters": nodes, "parameter_bytes": saved, "saved_bytes": saved}

    def export(self, trained, inputs: dict[str, np.ndarray], out: Path) -> dict[str, float]:
        """The ONNX graph (no TorchScript: there is no torch module), and its parity with the library."""
        from millrace.release.exports import export_estimator

        return export_estimator(trained.backbone, inputs, trained.plan.input_names, trained.task, out)

    def variants(self, trained, inputs: dict[str, np.ndarray], labels: np.ndarray, out: Path, settings):
        from millrace.release import compression

        return compression.for_estimators(inputs, labels, trained.task, out, settings)

    def graph(self, trained, width: int, input_name: str):
        from millrace.release.exports import output_name

        return trained.backbone.to_onnx(width, input_name, output_name(trained.task))
