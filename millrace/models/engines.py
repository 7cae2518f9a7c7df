"""The contract every engine keeps for a trained model, and which class keeps it for which engine.

Evaluate, deploy, the portfolio and an ensemble work through this contract and never ask which engine a model
came from. An engine loads a model from its train folder, gives its outputs on encoded rows, says its size, the
file that holds what it learned and its feature importance, and writes the deployed graphs with their parity
and variants. Fitting is the other half of a family: millrace/training/dispatch.py maps each engine to its
training run. A new engine is one class here and one training run there (docs/ARCHITECTURE.md).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from millrace.errors import MillraceError
from millrace.models.estimators import Estimator
from millrace.models.network import Network


class Engine(Protocol):
    batch_rows: int | None  # rows `trained_model.predict` encodes and runs at once (None: the whole frame)

    def load(self, train_dir: Path, meta: dict[str, Any], plan, load_folder: Callable) -> Any:
        """The fitted model (`Trained.backbone`); `load_folder` reads a nested train folder (a blend's member)."""

    def outputs(self, trained, encoded: dict[str, np.ndarray]) -> np.ndarray:
        """Probabilities (N × classes) or values (N), as the deployed graph computes them."""

    def size(self, trained) -> int:
        """Tree nodes, coefficients or parameters."""

    def importance(self, trained) -> dict[str, Any] | None:
        """What importance means and each input column's share of it; None where none is computed."""

    def gains(self, trained, width: int) -> np.ndarray | None:
        """Each encoded feature's importance, or None."""

    def saved_file(self, train_dir: Path, meta: dict[str, Any]) -> Path:
        """The file that holds what training learned (the release's weights hash)."""

    def model_size(self, trained, train_dir: Path) -> dict[str, Any]:
        """parameters, trainable_parameters, parameter_bytes (what a deployed model carries), saved_bytes."""

    def export(self, trained, inputs: dict[str, np.ndarray], out: Path) -> dict[str, float]:
        """Write the deployed graphs (model.onnx, and what else the engine ships) into `out`; return each one's
        largest difference from the trained model on `inputs` and whether every class agrees."""

    def variants(self, trained, inputs: dict[str, np.ndarray], labels: np.ndarray, out: Path, settings) -> dict:
        """fp32 measured on `inputs`, and each of `settings.variants` built and measured, or refused saying why."""

    def graph(self, trained, width: int, input_name: str) -> Any:
        """The model's ONNX graph over one feature matrix named `input_name` (a blend's member)."""


NETWORK, ESTIMATOR = Network(), Estimator()
ENGINES: dict[str, Engine] = {"lightning": NETWORK, "tree": ESTIMATOR, "linear": ESTIMATOR, "ensemble": ESTIMATOR}


def of(meta: dict[str, Any]) -> Engine:
    """The engine of a trained model, from its model.json (a network's says none: it predates the others)."""
    name = meta.get("engine", "lightning")
    if name not in ENGINES:
        raise MillraceError(f"model.json names engine {name!r}, which is not one of {sorted(ENGINES)}")
    return ENGINES[name]
