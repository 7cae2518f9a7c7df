"""The trained model on disk: safetensors weights plus JSON metadata, never a pickle.

`train` saves with `save()`; `evaluate` and `deploy` rebuild the backbone with `load()`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from stages.errors import MillraceError
from stages.features import FeaturePlan
from stages.io import atomic_path, read_json, write_json
from stages.params import Model
from stages.registry import REGISTRY

WEIGHTS, META, PREPROCESS = "model.safetensors", "model.json", "preprocess.json"


@dataclass
class Trained:
    backbone: Any  # torch.nn.Module, in eval mode
    meta: dict[str, Any]
    plan: FeaturePlan

    @property
    def classes(self) -> list[str]:
        return self.meta["classes"]


def save(out: Path, backbone, meta: dict[str, Any], plan: FeaturePlan) -> None:
    from safetensors.torch import save_file

    state = {k: v.detach().cpu().contiguous() for k, v in backbone.state_dict().items()}
    with atomic_path(out / WEIGHTS) as tmp:
        save_file(state, str(tmp))
    write_json(out / META, meta)
    write_json(out / PREPROCESS, plan.to_json())


def load_checkpoint(path: Path | str) -> dict[str, Any]:
    """A Lightning checkpoint, unpickled with `weights_only=True`: tensors and plain data only.

    A checkpoint carrying any other object (a pickle payload) is refused before it can run.
    """
    import pickle

    import torch

    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except (pickle.UnpicklingError, RuntimeError, EOFError) as exc:
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise MillraceError(f"refusing checkpoint {path}: not a plain weights file ({first})") from None


def load(train_dir: Path | str) -> Trained:
    from safetensors.torch import load_file

    train_dir = Path(train_dir)
    if not (train_dir / WEIGHTS).exists():
        raise MillraceError(f"no trained model at {train_dir}; run the train stage first")
    meta = read_json(train_dir / META)
    plan = FeaturePlan.from_json(read_json(train_dir / PREPROCESS))
    family = REGISTRY[meta["family"]]
    backbone = family.build(meta["input_dim"], len(meta["classes"]), Model(**meta["model"]))
    try:
        weights = load_file(str(train_dir / WEIGHTS))
    except Exception as exc:  # safetensors raises its own error type for a damaged file
        raise MillraceError(f"{train_dir / WEIGHTS} is damaged: {exc}; rerun the train stage") from None
    backbone.load_state_dict(weights)
    return Trained(backbone=backbone.eval(), meta=meta, plan=plan)
