"""The deployed graphs: ONNX (one self-contained file) and TorchScript, made reproducible, and their parity with
the checkpoint they came from on the test split."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from millrace.release.reproducible import normalise_torchscript, strip_source_paths

ONNX, TORCHSCRIPT = "model.onnx", "model.torchscript.pt"


def output_name(task: str) -> str:
    return "prediction" if task == "regression" else "probabilities"


def export(model, inputs: dict[str, np.ndarray], names: tuple[str, ...], task: str, out: Path) -> None:
    """ONNX (one self-contained file) and TorchScript; batch size, and sequence length for text, stay dynamic."""
    import logging
    import warnings

    import torch

    # The exporter warns about torchvision ops and a pytree deprecation; neither concerns us.
    logging.getLogger("torch.onnx._internal.exporter._registration").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", category=FutureWarning, message=".*LeafSpec.*")
    warnings.filterwarnings("ignore", category=UserWarning, module="torch.onnx")
    # Tracing a transformer warns about Python branches on shapes it treats as constants; the
    # parity check below is what shows whether the traced graph generalises.
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    warnings.filterwarnings("ignore", category=FutureWarning, module="transformers")
    example = tuple(torch.from_numpy(inputs[name][:2]) for name in names)
    batch, length = torch.export.Dim("batch"), torch.export.Dim("length")
    dynamic = tuple({0: batch, 1: length} if name in ("input_ids", "attention_mask") else {0: batch} for name in names)
    torch.onnx.export(
        model,
        example,
        str(out / ONNX),
        input_names=list(names),
        output_names=[output_name(task)],
        dynamic_shapes=(dynamic,),  # one entry: the serving model takes its inputs as *inputs
        dynamo=True,
        verbose=False,
        external_data=False,
    )
    strip_source_paths(out / ONNX)
    torch.jit.trace(model, example).save(str(out / TORCHSCRIPT))
    normalise_torchscript(out / TORCHSCRIPT)


def parity(model, inputs: dict[str, np.ndarray], names: tuple[str, ...], task: str, out: Path) -> dict[str, float]:
    """Each export's largest difference from the checkpoint, and (classification) argmax agreement.

    For regression the difference is relative to the value's size, so a tolerance means the same
    for a target in the hundreds as for one near 1.
    """
    import torch

    tensors = [torch.from_numpy(inputs[name]) for name in names]
    with torch.no_grad():
        reference = model(*tensors).numpy()
        scripted = torch.jit.load(str(out / TORCHSCRIPT)).eval()(*tensors).numpy()
    return differences(reference, {"onnx": onnx_outputs(out, inputs, names), "torchscript": scripted}, task)


def onnx_outputs(out: Path, inputs: dict[str, np.ndarray], names: tuple[str, ...]) -> np.ndarray:
    import onnxruntime

    session = onnxruntime.InferenceSession(str(out / ONNX), providers=["CPUExecutionProvider"])
    return session.run(None, {name: inputs[name] for name in names})[0]


def differences(reference: np.ndarray, exported: dict[str, np.ndarray], task: str) -> dict[str, float]:
    """Each export's largest difference from the reference (relative to the value's size for regression) and,
    for classification, whether every argmax agrees."""
    result = {}
    for name, values in exported.items():
        difference = np.abs(values - reference)
        regression = task == "regression"
        if regression:
            difference = difference / np.maximum(np.abs(reference), 1.0)
        result[f"{name}_max_abs_diff"] = float(difference.max())
        same = regression or bool((values.argmax(1) == reference.argmax(1)).all())
        result[f"{name}_same_predictions"] = same
    return result


def export_estimator(model, inputs: dict[str, np.ndarray], names: tuple[str, ...], task: str, out: Path):
    """A tree or linear model's ONNX graph (no TorchScript: there is no torch module), and its parity with the
    library."""
    import onnx

    (name,) = names
    onnx.save(model.to_onnx(inputs[name].shape[1], name, output_name(task)), str(out / ONNX))
    return differences(model.outputs(inputs[name]), {"onnx": onnx_outputs(out, inputs, names)}, task)
