"""The project's Lightning training against a plain PyTorch loop: same model, data and batch.

Both sides train the tabular MLP the train stage builds, on the same encoded tensors, with the
same optimiser, batch size and number of epochs; they alternate over several repetitions.
Reports the median steady-state epoch time of each (first epoch excluded) and the ratio
Lightning / plain; writes bench/results/training_loop_<accelerator>_<precision>.json.
Run: `python -m bench.training_loop [--rows N] [--accelerator cpu|gpu]`.
"""

from __future__ import annotations

import statistics
import tempfile
import time
from pathlib import Path

import torch
from rich.console import Console
from rich.table import Table

from bench import write_results
from bench.tabular import Timer, arguments, bench_params, machine_info, make_split, result_name, selection, steady
from millrace.training.datamodule import to_device_if_small
from millrace.training.fit import build, trainer


def lightning_epochs(label_dir: Path, p, hidden: tuple[int, ...]) -> list[float]:
    setup = build(label_dir, selection(hidden), p)
    timer = Timer()
    with tempfile.TemporaryDirectory() as out:
        fitter, _ = trainer(p.train, Path(out), logger=False, callbacks=[timer])
        fitter.fit(setup.system, datamodule=setup.datamodule)
    return timer.epochs


def plain_epochs(label_dir: Path, p, hidden: tuple[int, ...]) -> list[float]:
    """The floor: the same pieces driven by a hand-written loop, validation included.

    Deterministic like the Trainer (`deterministic=True`), so both sides run the same kernels.
    """
    torch.use_deterministic_algorithms(True)
    setup = build(label_dir, selection(hidden), p)
    device = torch.device("cuda" if p.train.accelerator == "gpu" else "cpu")
    model = setup.system.backbone.to(device)
    optimiser = torch.optim.AdamW(model.parameters(), lr=p.train.lr, weight_decay=p.train.weight_decay)
    loss_fn = torch.nn.CrossEntropyLoss()
    setup.datamodule.setup("fit")
    dm = setup.datamodule
    dm.train_set, dm.val_set = to_device_if_small(dm.train_set, device), to_device_if_small(dm.val_set, device)
    train_loader, val_loader = setup.datamodule.train_dataloader(), setup.datamodule.val_dataloader()
    autocast = torch.autocast(device.type, dtype=torch.bfloat16, enabled=p.train.precision == "bf16-mixed")
    epochs = []
    for _ in range(p.train.max_epochs):
        if device.type == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        model.train()
        for x, y in train_loader:
            x, y = x.to(device, non_blocking=True), y.to(device, non_blocking=True)
            with autocast:
                loss = loss_fn(model(x), y)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
        model.eval()
        with torch.no_grad(), autocast:
            for x, y in val_loader:
                loss_fn(model(x.to(device)), y.to(device))
        if device.type == "cuda":
            torch.cuda.synchronize()
        epochs.append(time.perf_counter() - start)
    return epochs


def main() -> None:
    parser = arguments(__doc__)
    parser.add_argument("--accelerator", default="gpu" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--precision", default="32-true")
    args = parser.parse_args()

    p = bench_params(args.accelerator, args.precision, args.epochs, args.batch)
    times: dict[str, list[float]] = {"lightning": [], "plain": []}
    with tempfile.TemporaryDirectory() as tmp:
        make_split(Path(tmp), args.rows, 32, 4)
        for _ in range(args.repeats):
            times["plain"].append(statistics.median(steady(plain_epochs(Path(tmp), p, args.hidden))))
            times["lightning"].append(statistics.median(steady(lightning_epochs(Path(tmp), p, args.hidden))))

    rows = {
        name: {"epoch_s_median": statistics.median(v), "epoch_s_min": min(v), "epoch_s_max": max(v)}
        for name, v in times.items()
    }
    ratio = rows["lightning"]["epoch_s_median"] / rows["plain"]["epoch_s_median"]
    width = "-".join(map(str, args.hidden))
    table = Table(
        title=f"epoch time, MLP {width}, {args.rows} rows, batch {args.batch}, {args.accelerator} {args.precision}"
    )
    for column in ("loop", "median s", "min–max s", "ratio"):
        table.add_column(column, justify="right")
    for name, r in rows.items():
        table.add_row(
            name,
            f"{r['epoch_s_median']:.3f}",
            f"{r['epoch_s_min']:.3f}–{r['epoch_s_max']:.3f}",
            f"{r['epoch_s_median'] / rows['plain']['epoch_s_median']:.2f}",
        )
    Console().print(table)
    machine = machine_info()
    write_results(
        result_name(f"training_loop_{args.accelerator}_{args.precision}", args.hidden),
        {"args": vars(args), "machine": machine, "results": rows, "ratio_lightning_over_plain": ratio},
    )


if __name__ == "__main__":
    main()
