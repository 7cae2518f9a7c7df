"""deploy: export a model that met the delivery standard as a versioned, self-checking bundle.

Reads `<paths.train>/`, `<paths.label>/`, `reports/evaluate/metrics.json` and
`deploy.parity_tolerance`; refuses a model whose delivery decision failed. Writes
`<paths.deploy>/` (model.onnx, model.torchscript.pt, preprocess.json, manifest.json) and
`reports/deploy.json`, after checking that ONNX and TorchScript give the checkpoint's
probabilities on the test split. Run: `python -m stages.deploy`.
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from stages.errors import MillraceError
from stages.features import encode
from stages.io import atomic_dir, read_json, sha256, write_json
from stages.params import load_params

ONNX, TORCHSCRIPT, PREPROCESS, MANIFEST = "model.onnx", "model.torchscript.pt", "preprocess.json", "manifest.json"


class DeployRefused(MillraceError):
    """The model did not meet the delivery standard, or an export disagrees with it."""


def probability_model(backbone):
    """The backbone followed by softmax: the graph that ships."""
    import torch

    class WithSoftmax(torch.nn.Module):
        def __init__(self, net: torch.nn.Module) -> None:
            super().__init__()
            self.net = net

        def forward(self, features: torch.Tensor) -> torch.Tensor:
            return torch.softmax(self.net(features), dim=1)

    return WithSoftmax(backbone).eval()


def export(model, width: int, out: Path) -> None:
    import logging
    import warnings

    import torch

    # The exporter warns about torchvision ops and a pytree deprecation; neither concerns us.
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning, message=".*LeafSpec.*")
    example = (torch.zeros(2, width),)
    torch.onnx.export(
        model,
        example,
        str(out / ONNX),
        input_names=["features"],
        output_names=["probabilities"],
        dynamic_shapes=({0: torch.export.Dim("batch")},),
        dynamo=True,
        verbose=False,
        external_data=False,
    )
    torch.jit.trace(model, example).save(str(out / TORCHSCRIPT))


def parity(model, x: np.ndarray, out: Path) -> dict[str, float]:
    """Max abs probability difference of each export against the checkpoint, and argmax agreement."""
    import onnxruntime
    import torch

    with torch.no_grad():
        reference = model(torch.from_numpy(x)).numpy()
        scripted = torch.jit.load(str(out / TORCHSCRIPT)).eval()(torch.from_numpy(x)).numpy()
    session = onnxruntime.InferenceSession(str(out / ONNX), providers=["CPUExecutionProvider"])
    onnx_probs = session.run(None, {"features": x})[0]
    result = {}
    for name, probs in [("onnx", onnx_probs), ("torchscript", scripted)]:
        result[f"{name}_max_abs_diff"] = float(np.abs(probs - reference).max())
        result[f"{name}_same_predictions"] = bool((probs.argmax(1) == reference.argmax(1)).all())
    return result


def data_hash(label_dir: Path) -> str:
    digest = hashlib.sha256()
    for path in sorted(label_dir.glob("*")):
        digest.update(path.name.encode() + sha256(path).encode())
    return digest.hexdigest()


def check_delivery(report: dict[str, Any]) -> None:
    decision = report["delivery"]
    if not decision["passed"]:
        raise DeployRefused(
            "refusing to deploy: the model does not meet the delivery standard: " + "; ".join(decision["reasons"])
        )


def run(trained, test: pd.DataFrame, evaluation: dict[str, Any], tolerance: float, out: Path) -> dict[str, Any]:
    """Export into `out` and verify parity; return the parity figures."""
    check_delivery(evaluation)
    model = probability_model(trained.backbone)
    export(model, trained.plan.width, out)
    figures = parity(model, encode(test, trained.plan), out)
    for name in ("onnx", "torchscript"):
        if figures[f"{name}_max_abs_diff"] > tolerance or not figures[f"{name}_same_predictions"]:
            raise DeployRefused(
                f"{name} export disagrees with the checkpoint on the test split: max abs difference "
                f"{figures[f'{name}_max_abs_diff']:.2e} (tolerance {tolerance:g}), "
                f"same predictions: {figures[f'{name}_same_predictions']}"
            )
    write_json(out / PREPROCESS, trained.plan.to_json())
    return figures


def manifest(trained, out: Path, label_dir: Path, evaluation: dict, figures: dict, params) -> dict[str, Any]:
    files = {p.name: sha256(p) for p in sorted(out.iterdir())}
    created = datetime.now(UTC)
    # The ONNX exporter's bytes vary between identical exports; the trained weights do not.
    weights = sha256(Path(params.paths.train) / "model.safetensors")
    return {
        "version": f"{created:%Y%m%dT%H%M%SZ}-{weights[:8]}",
        "weights_sha256": weights,
        "created_at": created.isoformat(),
        "family": trained.meta["family"],
        "target": trained.meta["target"],
        "classes": trained.classes,
        "features": {"numeric": list(trained.plan.numeric), "categorical": trained.plan.categorical},
        "input": {"name": "features", "width": trained.plan.width},
        "data_sha256": data_hash(label_dir),
        "params": json.loads(params.model_dump_json()),
        "metrics": {"test": {k: v for k, v in evaluation["test"].items() if k != "per_class"}},
        "delivery": evaluation["delivery"],
        "parity": figures,
        "files": files,
    }


def main() -> None:
    from stages import trained as trained_model

    params = load_params()
    evaluation = read_json(Path(params.paths.reports) / "evaluate" / "metrics.json")
    model = trained_model.load(params.paths.train)
    label_dir = Path(params.paths.label)
    test = pd.read_parquet(label_dir / "test.parquet")
    with atomic_dir(params.paths.deploy) as out:
        figures = run(model, test, evaluation, params.deploy.parity_tolerance, out)
        info = manifest(model, out, label_dir, evaluation, figures, params)
        write_json(out / MANIFEST, info)
    size = sum(p.stat().st_size for p in Path(params.paths.deploy).iterdir())
    write_json(Path(params.paths.reports) / "deploy.json", {"parity": figures, "bundle_bytes": size})
    print(f"deployed bundle {info['version']} to {params.paths.deploy}")


if __name__ == "__main__":
    from stages.cli import stage_main

    stage_main(main, __doc__)
