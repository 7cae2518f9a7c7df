"""Training throughput per accelerator and precision, measured side by side in one run.

Uses the train stage's own pieces (feature plan, data module, Lightning system, Trainer settings)
on a synthetic table, for each available (accelerator, precision) pair, alternating the pairs
over several repetitions. Reports median training samples/s (first epoch excluded), the share of
epoch time spent waiting for the data loader, and validation accuracy; writes
bench/results/train_accelerators.json. Run: `python -m bench.train_accelerators`.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from pathlib import Path

import lightning as L
import pandas as pd
import torch
from rich.console import Console
from rich.table import Table
from sklearn.datasets import make_classification

from stages.params import parse_params
from stages.train import build, trainer

RESULTS = Path(__file__).parent / "results" / "train_accelerators.json"
# Dense peak FLOP/s of the GPUs we are lent, by precision (NVIDIA's H100 SXM / H200 data sheets).
PEAK = {
    ("H100", "32-true"): 67e12,
    ("H100", "bf16-mixed"): 989e12,
    ("H200", "32-true"): 67e12,
    ("H200", "bf16-mixed"): 989e12,
}


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


def make_split(directory: Path, rows: int, features: int, classes: int) -> None:
    x, y = make_classification(
        n_samples=rows, n_features=features, n_informative=features // 2, n_classes=classes, random_state=0
    )
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(features)]).assign(y=y.astype(str), label=y)
    cut = int(rows * 0.8)
    frame.iloc[:cut].to_parquet(directory / "train.parquet")
    frame.iloc[cut:].to_parquet(directory / "val.parquet")
    (directory / "label_map.json").write_text(json.dumps({"classes": [str(c) for c in range(classes)]}))


def measure(label_dir: Path, accelerator: str, precision: str, epochs: int, batch: int, rows: int) -> dict:
    params = parse_params(
        {
            "seed": 0,
            "data": {"target": "y", "features": None},
            "model": {"hidden": [512, 512, 256], "dropout": 0.1},
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
    setup = build(label_dir, {"family": "tabular_mlp"}, params)
    timer = Timer()
    with tempfile.TemporaryDirectory() as out:
        fitter, _ = trainer(params.train, Path(out), logger=False, callbacks=[timer])
        fitter.fit(setup.system, datamodule=setup.datamodule)
    steady = timer.epochs[1:] or timer.epochs
    weights = sum(p.numel() for n, p in setup.system.backbone.named_parameters() if n.endswith("weight"))
    return {
        "flops_per_sample": 6 * weights,  # forward + backward of the matrix products
        "samples_per_s": rows * 0.8 / statistics.median(steady),
        "loader_share": statistics.median(timer.waiting[1:] or timer.waiting),
        "val_acc": float(fitter.callback_metrics["val/acc"]),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=200_000)
    parser.add_argument("--epochs", type=int, default=4)
    parser.add_argument("--batch", type=int, default=1024)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()

    configs = [("cpu", "32-true")]
    if torch.cuda.is_available():
        configs += [("gpu", "32-true"), ("gpu", "bf16-mixed")]
    runs: dict[tuple[str, str], list[dict]] = {c: [] for c in configs}
    with tempfile.TemporaryDirectory() as tmp:
        make_split(Path(tmp), args.rows, 32, 4)
        for _ in range(args.repeats):  # alternate configurations within each repetition
            for config in configs:
                runs[config].append(measure(Path(tmp), *config, args.epochs, args.batch, args.rows))

    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else ""
    results = []
    for (accelerator, precision), found in runs.items():
        speeds = [r["samples_per_s"] for r in found]
        achieved = statistics.median(speeds) * found[0]["flops_per_sample"]
        peak = next((v for (name, prec), v in PEAK.items() if name in gpu and prec == precision), None)
        results.append(
            {
                "accelerator": accelerator,
                "precision": precision,
                "samples_per_s_median": statistics.median(speeds),
                "samples_per_s_min": min(speeds),
                "samples_per_s_max": max(speeds),
                "loader_share_median": statistics.median(r["loader_share"] for r in found),
                "val_acc_median": statistics.median(r["val_acc"] for r in found),
                "achieved_tflops": achieved / 1e12,
                "mfu": achieved / peak if accelerator == "gpu" and peak else None,
            }
        )
    base = results[0]["samples_per_s_median"]
    table = Table(title=f"training throughput, {args.rows} rows, batch {args.batch}, MLP 512-512-256")
    for column in (
        "accelerator",
        "precision",
        "samples/s median",
        "min–max",
        "× cpu",
        "loader share",
        "val acc",
        "MFU",
    ):
        table.add_column(column, justify="right")
    for r in results:
        r["ratio_vs_cpu"] = r["samples_per_s_median"] / base
        table.add_row(
            r["accelerator"],
            r["precision"],
            f"{r['samples_per_s_median']:,.0f}",
            f"{r['samples_per_s_min']:,.0f}–{r['samples_per_s_max']:,.0f}",
            f"{r['ratio_vs_cpu']:.2f}",
            f"{r['loader_share_median']:.1%}",
            f"{r['val_acc_median']:.3f}",
            f"{r['mfu']:.2%}" if r["mfu"] is not None else "",
        )
    Console().print(table)
    machine = {
        "platform": platform.platform(),
        "cpus": os.cpu_count(),
        "torch": torch.__version__,
        "lightning": L.__version__,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps({"args": vars(args), "machine": machine, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
