"""Scaling: acquire → clean → label on synthetic tables of 1e4 → 1e6 rows, time and peak memory.

Each size is a CSV of penguins resampled with replacement, the measurements jittered (so rows stay
distinct and cleaning keeps them; the two penguins without measurements stay alike) and clipped to
each species' observed range (so the committed contracts pass). The stages run as the pipeline
runs them, `python -m stages.<name>` in a temporary copy of the project, each in its own process;
wall time and peak RSS come from `wait4` in a small launcher process (not this one, whose own
peak a forked child would inherit). The floor is the same work done the most direct way:
one process of pandas that reads the CSV, drops duplicates, fills the gaps, splits stratified and
writes the Parquet splits (no gates, no reports). Sides alternate, sizes repeat. Reports, per size,
time and peak RSS of both sides, the table's in-memory size, the log-log slope of time against
rows (over all sizes, and between the two largest, where the fixed start-up cost no longer hides
the per-row cost) and peak RSS over the table's in-memory size (goals: slope ≤ 1.05, peak RSS ≤ 3×
the data). `python -m bench.scaling [--sizes 10000,100000,1000000] [--repeats N]`; writes
bench/results/scaling.json.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
from functools import reduce
from operator import getitem
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from rich.console import Console
from rich.table import Table

from bench import write_results
from bench.pipeline_overhead import environment, project_copy

STAGES = ["acquire", "clean", "label"]
MEASUREMENTS = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]

FLOOR = """
import sys
import pandas as pd
from sklearn.model_selection import train_test_split
frame = pd.read_csv(sys.argv[1]).drop_duplicates()
numeric = frame.select_dtypes("number").columns
frame[numeric] = frame[numeric].fillna(frame[numeric].median())
for column in frame.columns.difference(numeric):
    frame[column] = frame[column].fillna(frame[column].mode().iloc[0])
train, rest = train_test_split(frame, train_size=0.7, stratify=frame["species"], random_state=0)
val, test = train_test_split(rest, train_size=0.5, stratify=rest["species"], random_state=0)
for name, part in [("train", train), ("val", val), ("test", test)]:
    part.to_parquet(f"{sys.argv[2]}/{name}.parquet")
"""


def synthetic_penguins(rows: int, seed: int = 0) -> pd.DataFrame:
    """Penguins resampled to `rows`, measurements jittered within each species' observed range."""
    from millrace.sources.builtin import load_builtin

    penguins = load_builtin("penguins")
    rng = np.random.default_rng(seed)
    frame = penguins.sample(rows, replace=True, random_state=seed).reset_index(drop=True)
    for column in MEASUREMENTS:
        spread = penguins.groupby("species")[column].agg(["min", "max", "std"])
        by_row = spread.loc[frame["species"]].to_numpy()
        jittered = frame[column].to_numpy() + rng.normal(0, 0.25, rows) * by_row[:, 2]
        frame[column] = np.clip(jittered, by_row[:, 0], by_row[:, 1]).round(2)
    return frame


# Linux carries a process's peak RSS across exec, so a child forked from this process (which holds
# the synthetic tables) would report at least this process's peak. A small launcher, itself a
# fresh process, forks and execs the command, and reports its wall time and peak RSS (KiB).
LAUNCHER = """
import os, sys, time
start = time.perf_counter()
pid = os.fork()
if pid == 0:
    try:
        os.execv(sys.argv[2], sys.argv[2:])
    finally:
        os._exit(127)
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as out:
    out.write(f"{time.perf_counter() - start} {usage.ru_maxrss}")
sys.exit(os.waitstatus_to_exitcode(status) & 0xFF)
"""


def measured(cwd: Path, *argv: str) -> tuple[float, int]:
    """Wall seconds and peak RSS (bytes) of one command; fails loudly if the command does."""
    with tempfile.NamedTemporaryFile("r") as figures:
        launcher = [sys.executable, "-S", "-c", LAUNCHER, figures.name, *argv]
        child = subprocess.run(launcher, cwd=cwd, env=environment(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        if child.returncode != 0:
            raise SystemExit(f"{' '.join(argv)} failed in {cwd}:\n{child.stdout.decode(errors='replace')[-3000:]}")
        seconds, peak_kib = figures.read().split()
    return float(seconds), int(peak_kib) * 1024  # ru_maxrss is in KiB on Linux


def use_source(project: Path, csv: Path) -> None:
    params_file = project / "params.yaml"
    params = yaml.safe_load(params_file.read_text())
    params["data"]["source"] = {"kind": "file", "path": str(csv)}
    params_file.write_text(yaml.safe_dump(params, sort_keys=False))


def millrace_side(project: Path) -> tuple[float, int, dict[str, tuple[float, int]]]:
    stages = {name: measured(project, sys.executable, "-m", f"stages.{name}") for name in STAGES}
    return sum(t for t, _ in stages.values()), max(peak for _, peak in stages.values()), stages


def floor_side(csv: Path, out: Path) -> tuple[float, int, dict]:
    out.mkdir(exist_ok=True)
    return *measured(out, sys.executable, "-c", FLOOR, str(csv), str(out)), {}


def marginal(rows: list[dict], *path: str, per: str = "rows") -> float | None:
    """The growth of the figure at `path` in a size's row between the two largest sizes, over the growth of `per`."""
    if len(rows) < 2:
        return None
    small, large = rows[-2], rows[-1]
    return (reduce(getitem, path, large) - reduce(getitem, path, small)) / (large[per] - small[per])


def slope(sizes: list[int], seconds: list[float]) -> float:
    return float(np.polyfit(np.log(sizes), np.log(seconds), 1)[0])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    sizes = [int(size) for size in args.sizes.split(",")]

    runs: dict[int, dict[str, list]] = {size: {"millrace": [], "floor": []} for size in sizes}
    data_bytes: dict[int, int] = {}
    with tempfile.TemporaryDirectory() as tmp:
        project = project_copy(Path(tmp) / "project")
        for size in sizes:
            table = synthetic_penguins(size)
            data_bytes[size] = int(table.memory_usage(deep=True).sum())
            table.to_csv(Path(tmp) / f"penguins_{size}.csv", index=False)
        for _ in range(args.repeats):
            for size in sizes:
                csv = Path(tmp) / f"penguins_{size}.csv"
                use_source(project, csv)
                runs[size]["millrace"].append(millrace_side(project))
                runs[size]["floor"].append(floor_side(csv, Path(tmp) / "floor"))

    rows = []
    for size in sizes:
        row = {"rows": size, "data_bytes": data_bytes[size]}
        for side in ("millrace", "floor"):
            seconds = [t for t, _, _ in runs[size][side]]
            row[side] = {
                "seconds_median": statistics.median(seconds),
                "seconds_min": min(seconds),
                "seconds_max": max(seconds),
                "peak_rss_bytes": max(peak for _, peak, _ in runs[size][side]),
            }
        row["millrace"]["stages"] = {
            name: {
                "seconds_median": statistics.median(stages[name][0] for _, _, stages in runs[size]["millrace"]),
                "peak_rss_bytes": max(stages[name][1] for _, _, stages in runs[size]["millrace"]),
            }
            for name in STAGES
        }
        rows.append(row)
    summary = {}
    for side in ("millrace", "floor"):
        seconds = [r[side]["seconds_median"] for r in rows]
        per_row = marginal(rows, side, "seconds_median")  # None for one size: slopes need two
        summary[side] = {
            "slope_all_sizes": slope(sizes, seconds) if len(sizes) > 1 else None,
            "slope_two_largest": slope(sizes[-2:], seconds[-2:]) if len(sizes) > 1 else None,
            "peak_rss_over_data_at_largest": rows[-1][side]["peak_rss_bytes"] / rows[-1]["data_bytes"],
            # What the rows add, start-up and imports taken out: per-row time, and memory per byte of data.
            "microseconds_per_row_two_largest": None if per_row is None else per_row * 1e6,
            "rss_added_over_data_added_two_largest": marginal(rows, side, "peak_rss_bytes", per="data_bytes"),
        }

    table = Table(title="acquire → clean → label (each stage its own process) vs pandas in one process")
    for column in ("rows", "data MB", "millrace s", "min–max", "floor s", "ratio", "millrace RSS MB", "floor RSS MB"):
        table.add_column(column, justify="right")
    for r in rows:
        m, f = r["millrace"], r["floor"]
        table.add_row(
            f"{r['rows']:,}",
            f"{r['data_bytes'] / 1e6:.1f}",
            f"{m['seconds_median']:.2f}",
            f"{m['seconds_min']:.2f}–{m['seconds_max']:.2f}",
            f"{f['seconds_median']:.2f}",
            f"{m['seconds_median'] / f['seconds_median']:.2f}",
            f"{m['peak_rss_bytes'] / 1e6:.0f}",
            f"{f['peak_rss_bytes'] / 1e6:.0f}",
        )
    console = Console()
    console.print(table)
    stages = Table(title=f"millrace by stage at {sizes[-1]:,} rows")
    for column in ("stage", "seconds", "peak RSS MB", "RSS added / data added"):
        stages.add_column(column, justify="right")
    for name, stage in rows[-1]["millrace"]["stages"].items():
        # Between the two largest sizes: what the rows cost this stage, imports taken out.
        peak = marginal(rows, "millrace", "stages", name, "peak_rss_bytes", per="data_bytes")
        stage["rss_added_over_data_added_two_largest"] = peak
        added = "—" if peak is None else f"{peak:.1f}×"
        stages.add_row(name, f"{stage['seconds_median']:.2f}", f"{stage['peak_rss_bytes'] / 1e6:.0f}", added)
    console.print(stages)
    for side, s in summary.items():
        line = f"{side}: peak RSS {s['peak_rss_over_data_at_largest']:.1f}× the data at {sizes[-1]:,} rows"
        if len(sizes) > 1:
            line += (
                f"; log-log slope {s['slope_all_sizes']:.2f} over all sizes"
                f"; between the two largest: slope {s['slope_two_largest']:.2f}, "
                f"{s['microseconds_per_row_two_largest']:.1f} µs a row, "
                f"RSS grows {s['rss_added_over_data_added_two_largest']:.1f}× the data it gains"
            )
        console.print(line)
    write_results("scaling", {"args": vars(args), "sizes": rows, "summary": summary})


if __name__ == "__main__":
    main()
