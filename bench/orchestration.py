"""What Prefect and DVC experiments cost on top of `dvc repro`, side by side.

1. Prefect: `python -m flows.pipeline --no-save` against `dvc repro` doing the same work — nothing to
   do (all up to date), and a deploy-only rerun (`deploy.parity_tolerance` changed) — with Prefect
   ephemeral (a server started per run, the default) and with a running local server (PREFECT_API_URL).
2. Experiments: `dvc exp run -S train.lr=…` against setting the same value and `dvc repro` (train →
   evaluate → deploy rerun both ways); a 4-point sweep queued with 2 workers (`millrace sweep`) against
   4 experiments run one after another.

Runs in a temporary copy of the project; the sides alternate and repeat.
`python -m bench.orchestration [--repeats N]`; writes bench/results/orchestration.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from rich.console import Console
from rich.table import Table

from bench import results_dir, write_results
from bench.pipeline_overhead import environment, project_copy, sh, summary, timed
from millrace.ops.http_ready import wait_until_answers

SWEEP = "  grid: {train.lr: [0.02, 0.03], train.max_epochs: [5, 6]}"


def with_server(repo: Path, port: int) -> subprocess.Popen:
    env = {**environment(), "PREFECT_HOME": str(repo / ".prefect-bench")}
    command = ["prefect", "server", "start", "--host", "127.0.0.1", "--port", str(port)]
    server = subprocess.Popen(command, cwd=repo, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if wait_until_answers(f"http://127.0.0.1:{port}/api/health", server, seconds=90):
        return server
    server.kill()
    raise SystemExit("the Prefect server did not start")


def flow_seconds(repo: Path, api_url: str | None) -> float:
    env = {**environment(), "PREFECT_HOME": str(repo / ".prefect-bench")}
    env.pop("PREFECT_API_URL", None)
    if api_url:
        env["PREFECT_API_URL"] = api_url
    start = time.perf_counter()
    command = [sys.executable, "-m", "flows.pipeline", "--no-save"]
    result = subprocess.run(command, cwd=repo, env=env, capture_output=True)
    if result.returncode != 0:
        raise SystemExit(f"the flow failed:\n{result.stdout.decode()[-2000:]}\n{result.stderr.decode()[-2000:]}")
    return time.perf_counter() - start


def set_param(repo: Path, pattern: str, value: str) -> None:
    path = repo / "params.yaml"
    path.write_text(re.sub(pattern, value, path.read_text(), count=1, flags=re.MULTILINE))


def run_once(repo: Path, side: str, api_url: str | None) -> float:
    return timed(repo, "dvc", "repro") if side == "dvc" else flow_seconds(repo, api_url)


PREFECT_SIDES = ("dvc", "ephemeral", "server")


def prefect_side_by_side(repo: Path, repeats: int, port: int) -> dict:
    sides: dict[str, list[float]] = {f"{w}_{s}": [] for w in ("noop", "deploy") for s in PREFECT_SIDES}
    server = with_server(repo, port)
    changes = 0
    try:
        for _ in range(repeats):
            for side in PREFECT_SIDES:
                api = f"http://127.0.0.1:{port}/api" if side.startswith("server") else None
                sides[f"noop_{side}"].append(run_once(repo, side, api))
                changes += 1  # a new value each time, so deploy (and only deploy) reruns
                set_param(repo, r"^  parity_tolerance: .*$", f"  parity_tolerance: 0.0002{changes:02d}")
                sides[f"deploy_{side}"].append(run_once(repo, side, api))
    finally:
        server.terminate()
        server.wait(timeout=30)
    return sides


def experiments_side_by_side(repo: Path, repeats: int) -> dict:
    sides: dict[str, list[float]] = {
        "exp_run": [],
        "repro": [],
        "sweep_2_workers": [],
        "sequential_4": [],
    }
    original = (repo / "params.yaml").read_text()
    for i in range(repeats):
        lr = f"0.0{15 + i}"
        sides["exp_run"].append(timed(repo, "dvc", "exp", "run", "-S", f"train.lr={lr}"))
        (repo / "params.yaml").write_text(original)
        set_param(repo, r"^  lr: .*$", f"  lr: {lr}1")
        sides["repro"].append(timed(repo, "dvc", "repro"))
        (repo / "params.yaml").write_text(original)
        sh(repo, "dvc", "checkout", "-f", "-q")
    for i in range(repeats):
        grid = SWEEP.replace("0.02", f"0.02{i}").replace("0.03", f"0.03{i}")
        set_param(repo, r"^  grid: .*$", grid)
        sides["sweep_2_workers"].append(timed(repo, "millrace", "sweep", "--jobs", "2"))
        start = time.perf_counter()
        for lr in (f"0.04{i}", f"0.05{i}"):
            for epochs in (5, 6):
                sh(repo, "dvc", "exp", "run", "-S", f"train.lr={lr}", "-S", f"train.max_epochs={epochs}")
        sides["sequential_4"].append(time.perf_counter() - start)
        (repo / "params.yaml").write_text(original)
        sh(repo, "dvc", "checkout", "-f", "-q")
    return sides


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--port", type=int, default=4281)
    parser.add_argument("--only", choices=["prefect", "experiments"], help="one half (the other keeps its figures)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        repo = project_copy(Path(tmp) / "real")
        sh(repo, "dvc", "repro")
        sh(repo, "git", "add", "-A")
        sh(repo, "git", "-c", "user.name=bench", "-c", "user.email=b@millrace.invalid", "commit", "-qm", "run")
        sides = {}
        if args.only != "experiments":
            sides |= prefect_side_by_side(repo, args.repeats, args.port)
            sh(repo, "git", "checkout", "-q", "params.yaml")
            sh(repo, "dvc", "repro")
        if args.only != "prefect":
            sides |= experiments_side_by_side(repo, args.repeats)
    previous = results_dir() / "orchestration.json"
    measured = json.loads(previous.read_text())["seconds"] if args.only and previous.exists() else {}
    measured |= {name: summary(values) for name, values in sides.items()}

    def ratio(ours: str, floor: str) -> float:
        return measured[ours]["median"] / measured[floor]["median"]

    rows = [
        ("no-op: flow, ephemeral Prefect", "noop_ephemeral", "noop_dvc", ""),
        ("no-op: flow, running server", "noop_server", "noop_dvc", "≤ 1.2×"),
        ("deploy rerun: flow, ephemeral", "deploy_ephemeral", "deploy_dvc", ""),
        ("deploy rerun: flow, running server", "deploy_server", "deploy_dvc", "≤ 1.2×"),
        ("train.lr change: dvc exp run", "exp_run", "repro", ""),
        ("4-point sweep, 2 workers", "sweep_2_workers", "sequential_4", "< 1×"),
    ]
    table = Table(title=f"orchestration, {os.cpu_count()} cores, median of {args.repeats} (seconds)")
    for column in ("what", "millrace s", "floor", "floor s", "ratio", "goal"):
        table.add_column(column, justify="right")
    ratios = {}
    for what, ours, floor, goal in rows:
        if ours not in measured or floor not in measured:  # `--only` with no earlier results for the other half
            continue
        key = ours if ours not in ratios else f"{ours}_over_{floor}"  # a second floor for the same side
        ratios[key] = ratio(ours, floor)
        spread = f"{measured[ours]['median']:.2f} ({measured[ours]['min']:.2f}–{measured[ours]['max']:.2f})"
        table.add_row(what, spread, floor, f"{measured[floor]['median']:.2f}", f"{ratios[key]:.2f}×", goal)
    Console().print(table)
    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    record = {"args": vars(args), "machine": machine, "measured": time.strftime("%Y-%m-%d")}
    record |= {"seconds": measured, "ratios": ratios}
    write_results("orchestration", record)


if __name__ == "__main__":
    main()
