"""Smaller, faster variants of the exported model, each measured before it may ship.

`int8`: ONNX Runtime's dynamic quantisation (weights as int8, activations quantised on the fly).
`pruned`: the smallest-magnitude share (`deploy.prune_amount`) of every Linear and Conv weight set to
zero (torch's global L1 pruning), then exported like the original. Each variant is measured on the
validation split beside fp32 — size on disk (and gzipped: zeros only pay off compressed or on a sparse
runtime), the task's primary metric, single-row latency and batch throughput under ONNX Runtime (those two
kept apart, in an untracked log: they differ from run to run) —
and one whose metric falls more than `deploy.variant_tolerance` below fp32's is refused: not
written to the bundle, its figures and the reason recorded.
"""

from __future__ import annotations

import copy
import gzip
import logging
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

LATENCY_RUNS = 20
THROUGHPUT_BATCH = 128
THROUGHPUT_RUNS = 2


class _NoPreprocessingHint(logging.Filter):
    """onnxruntime suggests shape-inference pre-processing on every call: advice for large models, noise here."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "pre-processing before quantization" not in record.getMessage()


def quantize(source: Path, target: Path) -> None:
    from onnxruntime.quantization import QuantType, quantize_dynamic

    hint = _NoPreprocessingHint()
    logging.getLogger().addFilter(hint)  # it logs on the root logger
    try:
        quantize_dynamic(str(source), str(target), weight_type=QuantType.QInt8)
    finally:
        logging.getLogger().removeFilter(hint)


def pruned(model, amount: float):
    """A copy of `model` with the smallest `amount` of its Linear/Conv weights (globally) set to zero."""
    import torch
    from torch.nn.utils import prune

    model = copy.deepcopy(model)
    layers = [(m, "weight") for m in model.modules() if isinstance(m, torch.nn.Linear | torch.nn.Conv2d)]
    prune.global_unstructured(layers, pruning_method=prune.L1Unstructured, amount=amount)
    for module, name in layers:
        prune.remove(module, name)
    return model


def score(outputs: np.ndarray, labels: np.ndarray, task: str) -> float:
    if task == "regression":
        from sklearn.metrics import r2_score

        return float(r2_score(labels, outputs))
    return float((outputs.argmax(1) == labels).mean())


def measure(path: Path, inputs: dict[str, np.ndarray], labels: np.ndarray, task: str) -> dict[str, Any]:
    """Size, the primary metric on the validation split, and (under "timings", which differ from run to run and
    so stay out of what git tracks) p50 single-row latency and batch throughput."""
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feed = dict(inputs)
    outputs = session.run(None, feed)[0]
    one = {k: v[:1] for k, v in feed.items()}
    session.run(None, one)  # warm-up
    latencies = []
    for _ in range(LATENCY_RUNS):
        started = time.perf_counter()
        session.run(None, one)
        latencies.append(time.perf_counter() - started)
    batch = {k: np.resize(v, (THROUGHPUT_BATCH, *v.shape[1:])) for k, v in feed.items()}
    started = time.perf_counter()
    for _ in range(THROUGHPUT_RUNS):
        session.run(None, batch)
    throughput = THROUGHPUT_RUNS * THROUGHPUT_BATCH / (time.perf_counter() - started)
    data = path.read_bytes()
    return {
        "file": path.name,
        "bytes": len(data),
        "gzip_bytes": len(gzip.compress(data, compresslevel=6)),
        "metric": round(score(outputs, labels, task), 6),
        "timings": {
            "latency_ms_p50": round(statistics.median(latencies) * 1000, 4),
            "rows_per_second": round(throughput, 1),
        },
    }


def build(
    model, export, inputs: dict[str, np.ndarray], labels: np.ndarray, task: str, out: Path, settings
) -> dict[str, dict[str, Any]]:
    """Measure fp32 (`out/model.onnx`, already exported) and build and measure each declared variant.

    `export(model, directory)` writes a model's ONNX graph as `directory/model.onnx`.
    """
    found = {"fp32": measure(out / "model.onnx", inputs, labels, task)}
    floor = found["fp32"]["metric"] - settings.variant_tolerance
    for name in settings.variants:
        target = out / f"model.{name}.onnx"
        if name == "int8":
            quantize(out / "model.onnx", target)
        else:
            with tempfile.TemporaryDirectory() as scratch:
                export(pruned(model, settings.prune_amount), Path(scratch))
                (Path(scratch) / "model.onnx").replace(target)
        figures = measure(target, inputs, labels, task)
        if figures["metric"] < floor:
            target.unlink()
            figures["refused"] = (
                f"metric {figures['metric']:.4f} is below fp32's {found['fp32']['metric']:.4f} "
                f"by more than deploy.variant_tolerance ({settings.variant_tolerance:g})"
            )
        found[name] = figures
    return found


def for_estimators(inputs: dict[str, np.ndarray], labels: np.ndarray, task: str, out: Path, settings) -> dict[str, Any]:
    """fp32 measured; the declared variants recorded as not built: quantising and pruning act on the Linear and
    Conv weights of a network, which neither a tree ensemble nor a scikit-learn linear model has (a blend of
    models ships its members as they were judged)."""
    found: dict[str, Any] = {"fp32": measure(out / "model.onnx", inputs, labels, task)}
    why = (
        "not built: quantising and pruning act on a network's Linear and Conv weights; a tree ensemble has none, "
        "a linear model's few coefficients gain nothing from it, and a blend ships its members' fp32 graphs"
    )
    return found | {name: {"refused": why, "timings": {}} for name in settings.variants}
