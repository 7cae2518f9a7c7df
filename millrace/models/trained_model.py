"""The trained model on disk: safetensors weights plus JSON metadata and the input plan, never a pickle.

`train` saves with `save()`; `evaluate` and `deploy` rebuild the backbone with `load()`. Only the
weights training changed are saved (a frozen pretrained encoder is rebuilt from its package), so
a LoRA run stores its adapters and head, not a copy of the encoder. A tree or linear family's model is its
library's own file instead (millrace/models/estimators.py); `backbone` is then that model, and `predict`,
`model_size` and `weights_file` answer for every engine.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from millrace.errors import MillraceError
from millrace.files import atomic_path, read_json, write_json
from millrace.inputs import plans
from millrace.models import estimators
from millrace.models.catalogue import FAMILIES
from millrace.models.estimators import is_estimator

if TYPE_CHECKING:
    import pandas as pd

WEIGHTS, META = "model.safetensors", "model.json"


@dataclass
class Trained:
    backbone: Any  # torch.nn.Module, in eval mode
    meta: dict[str, Any]
    plan: plans.Plan

    @property
    def task(self) -> str:
        return self.meta.get("task", "classification")

    @property
    def classes(self) -> list[str]:
        return self.meta["classes"]

    def serving_model(self):
        """The graph that ships: class probabilities, or predictions in the target's own units."""
        return serving_model(self.backbone, self.meta)


def outputs(meta: dict[str, Any]) -> int:
    return 1 if meta.get("task") == "regression" else len(meta["classes"])


def serving_model(backbone, meta: dict[str, Any]):
    import torch

    regression = meta.get("task") == "regression"
    scale = meta.get("target_scale", {"mean": 0.0, "std": 1.0})

    class Serving(torch.nn.Module):
        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
            out = self.net(*inputs)
            if regression:
                return out[:, 0] * scale["std"] + scale["mean"]
            return torch.softmax(out, dim=1)

    return Serving(backbone).eval()


def saved_keys(backbone) -> set[str]:
    """The weights worth saving: parameters that train (now or by the end) and persistent buffers."""
    trainable = {name for name, p in backbone.named_parameters() if p.requires_grad}
    parameters = {name for name, _ in backbone.named_parameters()}
    return {key for key in backbone.state_dict() if key in trainable or key not in parameters}


def parameter_counts(backbone) -> dict[str, int]:
    return {
        "trainable_params": sum(p.numel() for p in backbone.parameters() if p.requires_grad),
        "total_params": sum(p.numel() for p in backbone.parameters()),
    }


def save(out: Path, backbone, meta: dict[str, Any], plan: plans.Plan, keys: set[str] | None = None) -> None:
    from safetensors.torch import save_file

    keys = saved_keys(backbone) if keys is None else keys
    state = {k: v.detach().cpu().contiguous() for k, v in backbone.state_dict().items() if k in keys}
    with atomic_path(out / WEIGHTS) as tmp:
        mode = tmp.stat().st_mode
        save_file(state, str(tmp))
        tmp.chmod(mode)  # safetensors writes a fresh, private file
    write_json(out / META, meta)
    plans.save(plan, out)


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


def weights_file(train_dir: Path | str, meta: dict[str, Any]) -> Path:
    """The file that holds what training learned: safetensors weights, or a tree or linear model's own file."""
    if is_estimator(meta):
        return Path(train_dir) / estimators.model_file(meta)
    return Path(train_dir) / WEIGHTS


def load(train_dir: Path | str) -> Trained:
    from safetensors.torch import load_file

    train_dir = Path(train_dir)
    if not (train_dir / META).exists():
        raise MillraceError(f"no trained model at {train_dir}; run the train stage first")
    meta = read_json(train_dir / META)
    plan = plans.load(train_dir)
    if meta["family"] not in FAMILIES and meta.get("engine") != "ensemble":
        raise MillraceError(f"{train_dir / META} names family {meta['family']!r}, which is not registered")
    if meta.get("engine") == "ensemble":
        from millrace.models.ensemble import MEMBERS, EnsembleModel, read_weights

        weights = read_weights(train_dir)
        members = [load(train_dir / MEMBERS / str(i)) for i in range(len(weights))]
        return Trained(EnsembleModel(meta["task"], len(meta["classes"]), members, weights), meta, plan)
    if is_estimator(meta):
        return Trained(backbone=estimators.load(train_dir, meta), meta=meta, plan=plan)
    if not (train_dir / WEIGHTS).exists():
        raise MillraceError(f"no trained model at {train_dir}; run the train stage first")
    backbone = FAMILIES[meta["family"]].build(plan, outputs(meta), meta["model"])
    try:
        weights = load_file(str(train_dir / WEIGHTS))
    except Exception as exc:  # safetensors raises its own error type for a damaged file
        raise MillraceError(f"{train_dir / WEIGHTS} is damaged: {exc}; rerun the train stage") from None
    frozen = {name for name, p in backbone.named_parameters() if not p.requires_grad}
    result = backbone.load_state_dict(weights, strict=False)
    absent = set(result.missing_keys) - frozen
    if result.unexpected_keys or absent:
        raise MillraceError(
            f"{train_dir / WEIGHTS} does not fit a {meta['family']} model: "
            f"missing {sorted(absent)[:5]}, unexpected {sorted(result.unexpected_keys)[:5]}; rerun the train stage"
        )
    return Trained(backbone=backbone.eval(), meta=meta, plan=plan)


PREDICT_BATCH = 256


def predict(trained, frame: pd.DataFrame):
    """Class probabilities (N × classes) or predicted values (N), as the deployed graph computes them."""
    import torch

    if is_estimator(trained.meta):
        encoded = trained.plan.encode(frame)
        return torch.from_numpy(trained.backbone.outputs(encoded[trained.plan.input_names[0]]))
    model = trained.serving_model()
    outputs = []
    with torch.no_grad():
        for start in range(0, len(frame), PREDICT_BATCH):
            encoded = trained.plan.encode(frame.iloc[start : start + PREDICT_BATCH])
            outputs.append(model(*(torch.from_numpy(encoded[n]) for n in trained.plan.input_names)))
    return torch.cat(outputs)


def size_of(trained) -> int:
    """A trained model's size: tree nodes, coefficients or parameters."""
    if is_estimator(trained.meta):
        return int(trained.backbone.nodes())
    return int(parameter_counts(trained.backbone)["total_params"])


def model_size(trained, train_dir: Path) -> dict[str, Any]:
    """Parameters and their bytes (what a deployed model carries), and the bytes this run saved.

    The two differ for freeze and LoRA, which save only what they trained. A tree model's size is its nodes, a
    linear model's its coefficients.
    """
    if is_estimator(trained.meta):
        saved = weights_file(train_dir, trained.meta).stat().st_size
        if trained.meta["engine"] == "ensemble":  # and its members' files
            members = trained.backbone.members
            from millrace.models.ensemble import MEMBERS

            saved += sum(
                weights_file(Path(train_dir) / MEMBERS / str(i), m.meta).stat().st_size for i, m in enumerate(members)
            )
        nodes = trained.meta["nodes"]
        return {"parameters": nodes, "trainable_parameters": nodes, "parameter_bytes": saved, "saved_bytes": saved}
    counts = parameter_counts(trained.backbone)
    weights = sum(p.numel() * p.element_size() for p in trained.backbone.parameters())
    return {
        "parameters": counts["total_params"],
        "trainable_parameters": trained.meta.get("trainable_params", counts["trainable_params"]),  # as trained
        "parameter_bytes": weights,
        "saved_bytes": (train_dir / WEIGHTS).stat().st_size,
    }
