"""Training throughput per accelerator and precision, measured side by side in one run.

Uses the train stage's own pieces (feature plan, data module, Lightning system, Trainer settings)
on a synthetic table, for each available (accelerator, precision) pair, alternating the pairs
over several repetitions. Reports median training samples/s (first epoch excluded), the share of
epoch time spent waiting for the data loader, and validation accuracy; writes
bench/results/train_accelerators[_mlp<widths>].json where a GPU was measured, and
train_accelerators_cpu[_mlp<widths>].json on a machine without one, so `make bench` on a laptop keeps
the GPU machine's figures.
Run: `python -m bench.train_accelerators [--hidden 4096,4096,4096 --gpu-only]`.
"""

from __future__ import annotations

import statistics
import tempfile
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from bench import write_results
from bench.tabular import Timer, arguments, bench_params, machine_info, make_split, result_name, selection, steady
from millrace.training.fit import build, trainer

# Dense peak FLOP/s of the GPUs we are lent, by precision (NVIDIA's H100 SXM / H200 data sheets).
PEAK = {
    ("H100", "32-true"): 67e12,
    ("H100", "bf16-mixed"): 989e12,
    ("H200", "32-true"): 67e12,
    ("H200", "bf16-mixed"): 989e12,
}


def measure(label_dir: Path, config: tuple[str, str], args) -> dict:
    params = bench_params(*config, args.epochs, args.batch)
    setup = build(label_dir, selection(args.hidden), params)
    timer = Timer()
    with tempfile.TemporaryDirectory() as out:
        fitter, _ = trainer(params.train, Path(out), logger=False, callbacks=[timer])
        fitter.fit(setup.system, datamodule=setup.datamodule)
    weights = sum(p.numel() for n, p in setup.system.backbone.named_parameters() if n.endswith("weight"))
    return {
        "flops_per_sample": 6 * weights,  # forward + backward of the matrix products
        "samples_per_s": args.rows * 0.8 / statistics.median(steady(timer.epochs)),
        "loader_share": statistics.median(steady(timer.waiting)),
        "val_acc": float(fitter.callback_metrics["val/acc"]),
    }


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--gpu-only", action="store_true", help="skip the CPU (a wide model takes minutes there)")
    args = parser.parse_args()
    if args.gpu_only and not torch.cuda.is_available():
        parser.error("--gpu-only: torch sees no GPU on this machine")

    configs = [] if args.gpu_only else [("cpu", "32-true")]
    if torch.cuda.is_available():
        configs += [("gpu", "32-true"), ("gpu", "bf16-mixed")]
    runs: dict[tuple[str, str], list[dict]] = {c: [] for c in configs}
    with tempfile.TemporaryDirectory() as tmp:
        make_split(Path(tmp), args.rows, 32, 4)
        for _ in range(args.repeats):  # alternate configurations within each repetition
            for config in configs:
                runs[config].append(measure(Path(tmp), config, args))

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
    base = next((r["samples_per_s_median"] for r in results if r["accelerator"] == "cpu"), None)
    width = "-".join(map(str, args.hidden))
    table = Table(title=f"training throughput, {args.rows} rows, batch {args.batch}, MLP {width}")
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
        r["ratio_vs_cpu"] = r["samples_per_s_median"] / base if base else None
        table.add_row(
            r["accelerator"],
            r["precision"],
            f"{r['samples_per_s_median']:,.0f}",
            f"{r['samples_per_s_min']:,.0f}–{r['samples_per_s_max']:,.0f}",
            f"{r['ratio_vs_cpu']:.2f}" if base else "",
            f"{r['loader_share_median']:.1%}",
            f"{r['val_acc_median']:.3f}",
            f"{r['mfu']:.2%}" if r["mfu"] is not None else "",
        )
    Console().print(table)
    record = {"args": vars(args), "machine": machine_info(), "results": results}
    stem = "train_accelerators" if torch.cuda.is_available() else "train_accelerators_cpu"
    write_results(result_name(stem, args.hidden), record)


if __name__ == "__main__":
    main()
