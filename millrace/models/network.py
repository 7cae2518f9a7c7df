"""A network family's trained model (engine "lightning"): a torch module saved as safetensors, never a pickle, and
deployed as ONNX and TorchScript with int8 and pruned variants.

Only the weights training changed are saved (a frozen pretrained encoder is rebuilt from its package), so a LoRA
run stores its adapters and head, not a copy of the encoder. `Network` is this engine's implementation of
millrace/models/engines.py's contract.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from millrace.errors import MillraceError
from millrace.files import atomic_path, write_json
from millrace.inputs import plans

WEIGHTS = "model.safetensors"
META = "model.json"


def outputs(meta: dict[str, Any]) -> int:
    """The width of the network's last layer: one value, or one logit a class."""
    return 1 if meta.get("task") == "regression" else len(meta["classes"])


def serving_model(backbone, meta: dict[str, Any]):
    """The graph that ships: class probabilities, or predictions in the target's own units."""
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


class Network:
    """The engine of the torch families: Lightning trains them (millrace/training/lightning_run.py)."""

    batch_rows = 256  # rows encoded and run at once: a text batch pads only to its own longest row

    def load(self, train_dir: Path, meta: dict[str, Any], plan, load_folder=None):
        from safetensors.torch import load_file

        from millrace.models.catalogue import FAMILIES

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
        return backbone.eval()

    def outputs(self, trained, encoded: dict[str, np.ndarray]) -> np.ndarray:
        import torch

        with torch.no_grad():
            model = trained.serving_model()
            return model(*(torch.from_numpy(encoded[n]) for n in trained.plan.input_names)).numpy()

    def size(self, trained) -> int:
        return int(parameter_counts(trained.backbone)["total_params"])

    def importance(self, trained) -> None:
        return None  # no per-feature importance is computed for a network

    def gains(self, trained, width: int) -> None:
        return None

    def saved_file(self, train_dir: Path, meta: dict[str, Any]) -> Path:
        return Path(train_dir) / WEIGHTS

    def model_size(self, trained, train_dir: Path) -> dict[str, Any]:
        counts = parameter_counts(trained.backbone)
        weights = sum(p.numel() * p.element_size() for p in trained.backbone.parameters())
        return {
            "parameters": counts["total_params"],
            "trainable_parameters": trained.meta.get("trainable_params", counts["trainable_params"]),  # as trained
            "parameter_bytes": weights,
            "saved_bytes": (Path(train_dir) / WEIGHTS).stat().st_size,
        }

    def export(self, trained, inputs: dict[str, np.ndarray], out: Path) -> dict[str, float]:
        """ONNX and TorchScript of the serving model (LoRA adapters merged first), and their parity with it."""
        from millrace.release.exports import export, parity

        if hasattr(trained.backbone, "for_export"):
            trained.backbone = trained.backbone.for_export()
        model, names = trained.serving_model(), trained.plan.input_names
        export(model, inputs, names, trained.task, out)
        return parity(model, inputs, names, trained.task, out)

    def variants(self, trained, inputs: dict[str, np.ndarray], labels: np.ndarray, out: Path, settings):
        """fp32 measured; int8 and pruned built from the exported graph and measured beside it."""
        from millrace.release import compression
        from millrace.release.exports import export

        names = trained.plan.input_names

        def export_onnx(candidate, directory: Path) -> None:
            export(candidate, inputs, names, trained.task, directory)

        return compression.build(trained.serving_model(), export_onnx, inputs, labels, trained.task, out, settings)

    def graph(self, trained, width: int, input_name: str):
        """The serving model's ONNX graph over one feature matrix (a blend's member)."""
        import tempfile

        import onnx

        from millrace.release.exports import ONNX, export

        example = {input_name: np.zeros((2, width), dtype=np.float32)}
        with tempfile.TemporaryDirectory(prefix="millrace-member-") as folder:
            export(trained.serving_model(), example, (input_name,), trained.task, Path(folder))
            return onnx.load(str(Path(folder) / ONNX))
