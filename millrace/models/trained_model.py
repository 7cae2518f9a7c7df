"""The trained model on disk, whatever its engine: model.json, the input plan and what training learned (a
network's safetensors weights, or a tree or linear model's own file), never a pickle.

`train` saves a model through its engine's training run; `evaluate`, `deploy`, the portfolio and a blend read it
back with `load()` and use it through `predict`, `size_of`, `model_size` and `weights_file`, which ask the model's
engine (millrace/models/engines.py).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from millrace.errors import MillraceError
from millrace.files import read_json
from millrace.inputs import plans
from millrace.models import engines
from millrace.models.catalogue import FAMILIES
from millrace.models.network import META, serving_model

if TYPE_CHECKING:
    import pandas as pd


@dataclass
class Trained:
    backbone: Any  # a torch.nn.Module in eval mode, or a tree, linear or ensemble model (its engine says which)
    meta: dict[str, Any]
    plan: plans.Plan

    @property
    def task(self) -> str:
        return self.meta.get("task", "classification")

    @property
    def classes(self) -> list[str]:
        return self.meta["classes"]

    @property
    def engine(self) -> engines.Engine:
        return engines.of(self.meta)

    def serving_model(self):
        """A network's graph that ships: class probabilities, or predictions in the target's own units."""
        return serving_model(self.backbone, self.meta)

    def outputs(self, encoded: dict[str, np.ndarray]) -> np.ndarray:
        return self.engine.outputs(self, encoded)

    def size(self) -> int:
        return self.engine.size(self)

    def gains(self, width: int) -> np.ndarray | None:
        return self.engine.gains(self, width)

    def graph(self, width: int, input_name: str):
        return self.engine.graph(self, width, input_name)

    def model_size(self, train_dir: Path) -> dict[str, Any]:
        return self.engine.model_size(self, Path(train_dir))


def load(train_dir: Path | str) -> Trained:
    train_dir = Path(train_dir)
    if not (train_dir / META).exists():
        raise MillraceError(f"no trained model at {train_dir}; run the train stage first")
    meta = read_json(train_dir / META)
    plan = plans.load(train_dir)
    if meta["family"] not in FAMILIES and meta.get("engine") != "ensemble":
        raise MillraceError(f"{train_dir / META} names family {meta['family']!r}, which is not registered")
    return Trained(engines.of(meta).load(train_dir, meta, plan, load), meta, plan)


def predict(trained: Trained, frame: pd.DataFrame):
    """Class probabilities (N × classes) or predicted values (N), as the deployed graph computes them, as a
    torch tensor."""
    import torch

    rows = max(len(frame), 1)
    step = trained.engine.batch_rows or rows
    parts = [trained.outputs(trained.plan.encode(frame.iloc[at : at + step])) for at in range(0, rows, step)]
    return torch.from_numpy(np.concatenate(parts))


def size_of(trained: Trained) -> int:
    """A trained model's size: tree nodes, coefficients or parameters."""
    return trained.size()


def model_size(trained: Trained, train_dir: Path) -> dict[str, Any]:
    """Parameters and their bytes (what a deployed model carries), and the bytes this run saved.

    The two differ for freeze and LoRA, which save only what they trained. A tree model's size is its nodes, a
    linear model's its coefficients.
    """
    return trained.model_size(train_dir)


def weights_file(train_dir: Path | str, meta: dict[str, Any]) -> Path:
    """The file that holds what training learned: safetensors weights, or a tree or linear model's own file."""
    return engines.of(meta).saved_file(Path(train_dir), meta)
