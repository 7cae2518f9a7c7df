"""A deployed bundle loaded for inference: ONNX Runtime, numpy and pandas only (no torch).

Used by the HTTP server and by batch prediction. `predict_frame` is the one place that turns
records into predictions, so both give the same answers.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from millrace.errors import MillraceError
from millrace.files import folder_sha256, read_json, sha256
from millrace.inputs import plans
from millrace.inputs.table_transform import Counts

MANIFEST = "manifest.json"


def check_exists(directory: Path | str) -> Path:
    directory = Path(directory)
    if not (directory / MANIFEST).exists():
        raise MillraceError(f"no deployed bundle at {directory}; run `dvc repro` first")
    return directory


def verify(directory: Path | str) -> Path:
    """The bundle exactly as deploy wrote it: every file (and folder) its manifest lists, with that sha256.

    A truncated, replaced or missing graph is named before anything loads or serves it.
    """
    directory = check_exists(directory)
    listed = read_json(directory / MANIFEST).get("files") or {}
    damaged = []
    for name, expected in listed.items():
        path = directory / name.rstrip("/")
        if not path.exists():
            damaged.append(f"{name} is missing")
        elif (folder_sha256(path) if name.endswith("/") else sha256(path)) != expected:
            damaged.append(f"{name} differs from the manifest (sha256)")
    if damaged:
        raise MillraceError(f"the bundle at {directory} is damaged: {'; '.join(damaged)}")
    return directory


class Bundle:
    def __init__(self, directory: Path | str, variant: str = "fp32") -> None:
        import onnxruntime

        directory = verify(directory)
        graph = directory / ("model.onnx" if variant == "fp32" else f"model.{variant}.onnx")
        self.manifest = read_json(directory / MANIFEST)
        self.plan = plans.load(directory)
        self.classes: list[str] = self.manifest["classes"]
        self.regression = self.manifest.get("task") == "regression"
        if not graph.is_file():
            why = (self.manifest.get("variants") or {}).get(variant, {}).get("refused", "it was not built")
            raise MillraceError(f"the bundle at {directory} has no {variant} variant: {why} (deploy.variants)")
        try:
            self.session = onnxruntime.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own types for a damaged model
            raise MillraceError(f"{graph} cannot be loaded: {exc}") from None
        self.variant = variant

    @property
    def version(self) -> str:
        return self.manifest["version"]

    def outputs(self, frame: pd.DataFrame) -> np.ndarray:
        """Class probabilities (N × classes) or values (N) for a frame of records."""
        return self._run(self.plan.encode(frame))

    def _run(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        return self.session.run(None, {name: inputs[name] for name in self.plan.input_names})[0]

    def predict(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        return self.predict_counted(records)[0]

    def predict_counted(self, records: list[dict[str, Any]]) -> tuple[list[dict[str, Any]], Counts]:
        """Predictions, and per feature the values that were missing (imputed) or unseen categories."""
        inputs, counts = plans.encode_records(self.plan, records)
        outputs = self._run(inputs)
        if self.regression:
            return [{"value": value} for value in outputs.astype(np.float64).tolist()], counts
        return [
            {"class": self.classes[best], "probabilities": dict(zip(self.classes, row, strict=True))}
            for best, row in zip(outputs.argmax(1).tolist(), outputs.astype(np.float64).tolist(), strict=True)
        ], counts

    def predict_frame(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Prediction columns for a frame: `prediction`, plus `probability_<class>` for classification."""
        outputs = self.outputs(frame)
        if self.regression:
            return pd.DataFrame({"prediction": outputs.astype("float64")}, index=frame.index)
        columns = {"prediction": [self.classes[i] for i in outputs.argmax(1)]}
        columns |= {f"probability_{c}": outputs[:, i].astype("float64") for i, c in enumerate(self.classes)}
        return pd.DataFrame(columns, index=frame.index)
