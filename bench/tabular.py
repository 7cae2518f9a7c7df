"""What the training benchmarks share: a synthetic table, the params they train with, a timer."""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path

import lightning as L
import pandas as pd
import torch
from sklearn.datasets import make_classification

from millrace.config.params import Params, parse_params


class Timer(L.Callback):
    """Per-epoch wall time, and the time between batches (waiting for the loader)."""

    def __init__(self) -> None:
        self.epochs: list[float] = []
        self.waiting: list[float] = []

    def _sync(self, module: L.LightningModule) -> None:
        if module.device.type == "cuda":
            torch.cuda.synchronize()

    def on_train_epoch_start(self, trainer, module) -> None:
        self._sync(module)
        self.start = self.last = time.perf_counter()
        self.wait = 0.0

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        self.wait += time.perf_counter() - self.last

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.last = time.perf_counter()

    def on_train_epoch_end(self, trainer, module) -> None:
        self._sync(module)
        elapsed = time.perf_counter() - self.start
        self.epochs.append(elapsed)
        self.waiting.append(self.wait / elapsed)


def steady(per_epoch: list[float]) -> list[float]:
    """Every epoch but the first (warm-up: allocations, lazy initialisation); the one epoch of a 1-epoch run."""
    return per_epoch[1:] or per_epoch


def make_split(directory: Path, rows: int, features: int, classes: int) -> None:
    x, y = make_classification(
        n_samples=rows, n_features=features, n_informative=features // 2, n_classes=classes, random_state=0
    )
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(features)]).assign(y=y.astype(str), label=y)
    cut = int(rows * 0.8)
    frame.iloc[:cut].to_parquet(directory / "train.parquet")
    frame.iloc[cut:].to_parquet(directory / "val.parquet")
    (directory / "label_map.json").write_text(json.dumps({"classes": [str(c) for c in range(classes)]}))


# The MLP the training benchmarks train by default: 512-512-256, a realistic size for tabular work.
DEFAULT_HIDDEN = (512, 512, 256)


def selection(hidden: tuple[int, ...] = DEFAULT_HIDDEN) -> dict:
    """The model selection the train stage would receive for an MLP of these hidden widths."""
    return {"family": "tabular_mlp", "size": "large", "options": {"hidden": list(hidden)}}


def result_name(stem: str, hidden: tuple[int, ...]) -> str:
    """Results of a non-default width go beside the default's, named by the width."""
    return stem if tuple(hidden) == DEFAULT_HIDDEN else f"{stem}_mlp{'-'.join(map(str, hidden))}"


def bench_params(accelerator: str, precision: str, epochs: int, batch: int) -> Params:
    """An MLP 512-512-256 on the synthetic table; patience high enough never to stop early."""
    return parse_params(
        {
            "seed": 0,
            "data": {"source": {"kind": "file", "path": "synthetic.parquet"}, "target": "y", "features": None},
            "model": {"dropout": 0.1},
            "train": {
                "accelerator": accelerator,
                "precision": precision,
                "max_epochs": epochs,
                "batch_size": batch,
                "patience": 1000,
                "lr": 0.001,
            },
        }
    )


def machine_info() -> dict:
    """Where the figures were measured, recorded beside them."""
    return {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "lightning": L.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }


def arguments(description: str) -> argparse.ArgumentParser:
    """The options every training benchmark takes: table size, epochs, batch, repetitions."""
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument(
        "--hidden",
        type=lambda text: tuple(int(width) for width in text.split(",")),
        default=DEFAULT_HIDDEN,
        help="the MLP's hidden widths, e.g. 4096,4096,4096 for a model the GPU's arithmetic bounds",
    )
    return parser
