"""What orchestration costs: `dvc repro` of the real pipeline against its floors, side by side.

1. No-op `dvc repro` (everything up to date) of the real pipeline vs the same seven-stage DAG of
   empty scripts: DVC's fixed cost against the cost of checking the real deps, params and outs.
2. The default pipeline from scratch (`dvc repro --force`) vs the sum of the stages' work done
   in one Python process (each stage's `main()`, imports already paid): what process
   start-up, imports and DVC bookkeeping add.
3. A `train.lr` change: the rerun of train → evaluate → deploy vs those stages' in-process work.
4. Import time of each stage module in a fresh interpreter (what each `python -m stages.<name>` pays).
5. Steady state: the full run and the no-op again after `--steady-runs` more runs in the same workspace,
   against the fresh copy's: what a workspace accumulates (GE's stored results, Data Docs, releases, logs)
   must not make every run slower.
6. DVC alone: the full run (`dvc repro --force`) of a copy of the finished project whose stage commands copy
   back the outputs a real run made instead of computing them, less those copies' own time: DVC's own work on
   this pipeline (status, hashing and caching the outputs, rewriting dvc.lock after every stage). The floor
   plus that is the least any run that DVC drives can take.

Runs in temporary copies of the project; measurements alternate between the sides and repeat.
`python -m bench.pipeline_overhead [--repeats N] [--steady-runs N]`; writes bench/results/pipeline_overhead.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml
from rich.console import Console
from rich.table import Table

from bench import write_results
from millrace.environment import QUIET_ENV

ROOT = Path(__file__).resolve().parents[1]
REVIEWS = ("reports/review_verdicts.csv", "reports/review_preferences.csv")  # reviewers' files: inputs
STAGES = ["acquire", "clean", "label", "select", "train", "evaluate", "deploy"]

# Imports already paid by the floor before any `main()` (stages import some of them inside `main()`):
# scikit-learn's linear models after torch (two libgomp copies made evaluate's gradient boosting ~1 s slower).
PRELOAD = (
    "numpy",
    "pandas",
    "pyarrow.parquet",
    "yaml",
    "pydantic",
    "rich.console",
    "great_expectations",
    "torch",
    "torchmetrics",
    "lightning",
    "sklearn.model_selection",
    "sklearn.linear_model",
    "torch.export._trace",
    "onnxscript.function_libs.torch_lib.ops",
    "torch.onnx._internal.exporter._core",
)
IN_PROCESS = """
import gc, importlib, json, sys, time
for library in json.loads(sys.argv[3]):
    importlib.import_module(library)
gc.freeze()  # otherwise the collector walks the imported heap again and again
names = sys.argv[1].split(",")
modules = {n: importlib.import_module(m) for n, m in json.loads(sys.argv[2]).items()}
timings = {}
for name in names:
    start = time.perf_counter()
    modules[name].main()
    timings[name] = time.perf_counter() - start
print(json.dumps(timings))
"""


def environment() -> dict[str, str]:
    bin_dir = Path(sys.executable).parent
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        **QUIET_ENV,  # DVC's own switch among them: the empty DAG's fresh `dvc init` would report usage
        "PYTHONPATH": "",
    }


def sh(cwd: Path, *args: str) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=environment(), capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {cwd}:\n{result.stdout}\n{result.stderr}")
    return result


def timed(cwd: Path, *args: str) -> float:
    start = time.perf_counter()
    sh(cwd, *args)
    return time.perf_counter() - start


def git_repo(directory: Path) -> None:
    sh(directory, "git", "init", "-q", "-b", "main")
    sh(directory, "git", "-c", "user.name=bench", "-c", "user.email=bench@millrace.invalid", "add", "-A")
    sh(directory, "git", "-c", "user.name=bench", "-c", "user.email=bench@millrace.invalid", "commit", "-qm", "bench")


def project_copy(destination: Path) -> Path:
    """What a fresh clone holds, without outputs, as a git repo."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True)
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = ROOT / name
        output = name.startswith(("reports/", "models/")) and name not in REVIEWS  # an input
        if source.is_file() and not output and name != "dvc.lock":
            (destination / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, destination / name)
    git_repo(destination)
    return destination


def empty_dag(destination: Path) -> Path:
    """Seven chained stages of an empty Python script, each with one dep and one small out."""
    destination.mkdir(parents=True)
    (destination / "step.py").write_text("import sys\nopen(sys.argv[1], 'w').write('x')\n")
    stages, previous = {}, None
    for name in STAGES:
        deps = ["step.py"] + ([previous] if previous else [])
        stages[name] = {"cmd": f"python step.py out_{name}", "deps": deps, "outs": [f"out_{name}"]}
        previous = f"out_{name}"
    (destination / "dvc.yaml").write_text(yaml.safe_dump({"stages": stages}, sort_keys=False))
    git_repo(destination)
    sh(destination, "dvc", "init", "-q")
    sh(destination, "dvc", "repro")
    return destination


def stage_outputs(repo: Path) -> dict[str, list[str]]:
    """Each stage's outputs, as dvc.lock lists them (paths interpolated)."""
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return {name: [out["path"] for out in stage.get("outs", [])] for name, stage in lock["stages"].items()}


def restoring_command(outputs: list[str], stash: Path) -> str:
    """A shell command that copies `outputs` back from `stash`, where they were saved under the same paths."""
    return " && ".join(f"cp -a {shlex.quote(str(stash / path))} {shlex.quote(path)}" for path in outputs)


def outputs_restored(repo: Path, destination: Path) -> tuple[Path, dict[str, list[str]]]:
    """A copy of `repo`, a finished pipeline, whose stages copy their outputs back instead of computing them,
    run once (so that dvc.lock records the new commands); and each stage's outputs."""
    alone, stash = destination / "project", destination / "outputs"
    shutil.copytree(repo, alone, symlinks=True)
    outputs = stage_outputs(alone)
    pipeline = yaml.safe_load((alone / "dvc.yaml").read_text())
    for name, paths in outputs.items():
        for path in paths:
            (stash / path).parent.mkdir(parents=True, exist_ok=True)
            (shutil.copytree if (alone / path).is_dir() else shutil.copy2)(alone / path, stash / path)
        pipeline["stages"][name]["cmd"] = restoring_command(paths, stash)
    (alone / "dvc.yaml").write_text(yaml.safe_dump(pipeline, sort_keys=False))
    sh(alone, "dvc", "repro", "--force")
    return alone, outputs


def restoring_seconds(alone: Path, outputs: dict[str, list[str]]) -> float:
    """What the restoring commands themselves take, run as DVC runs them (a shell each, outputs removed first)."""
    pipeline = yaml.safe_load((alone / "dvc.yaml").read_text())
    seconds = 0.0
    for name, paths in outputs.items():
        for path in paths:
            (shutil.rmtree if (alone / path).is_dir() else os.remove)(alone / path)
        seconds += timed(alone, "sh", "-c", pipeline["stages"][name]["cmd"])
    return seconds


def in_process(repo: Path, stages: list[str]) -> dict[str, float]:
    modules = {name: f"stages.{name}" for name in stages}
    preload = json.dumps(PRELOAD)
    out = sh(repo, sys.executable, "-c", IN_PROCESS, ",".join(stages), json.dumps(modules), preload).stdout
    return json.loads(out.strip().splitlines()[-1])


def import_seconds(repo: Path, module: str) -> float:
    return timed(repo, sys.executable, "-c", f"import {module}") - timed(repo, sys.executable, "-c", "pass")


def summary(values: list[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def floor_plus(work: list[float], dvc_alone: list[float], restoring: list[float]) -> float:
    """The floor plus DVC's own work (the restoring copies' time taken out), over the floor."""
    own = statistics.median(dvc_alone) - statistics.median(restoring)
    return (statistics.median(work) + own) / statistics.median(work)


def measure(repeats: int, steady_runs: int) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        repo = project_copy(Path(tmp) / "real")
        floor = empty_dag(Path(tmp) / "empty")
        sh(repo, "dvc", "repro")
        alone, outputs = outputs_restored(repo, Path(tmp) / "alone")

        noop = {"real": [], "empty": []}
        for _ in range(repeats):
            noop["empty"].append(timed(floor, "dvc", "repro"))
            noop["real"].append(timed(repo, "dvc", "repro"))

        full, work = [], []
        alone_full, restoring = [], []  # DVC's own work: the stages copy their outputs back
        for _ in range(repeats):
            work.append(sum(in_process(repo, STAGES).values()))
            full.append(timed(repo, "dvc", "repro", "--force"))
            alone_full.append(timed(alone, "dvc", "repro", "--force"))
            restoring.append(restoring_seconds(alone, outputs))

        rerun, rerun_work = [], []
        params = (repo / "params.yaml").read_text()
        for i in range(repeats):
            lr = 0.011 + i / 1000
            (repo / "params.yaml").write_text(params.replace("  lr: 0.01\n", f"  lr: {lr:.3f}\n"))
            rerun.append(timed(repo, "dvc", "repro"))
            rerun_work.append(sum(in_process(repo, ["train", "evaluate", "deploy"]).values()))
        (repo / "params.yaml").write_text(params)

        # What a workspace accumulates run after run (GE's stored results and Data Docs, releases, logs) must not
        # make each run slower: the same run again after `steady_runs` more in this workspace.
        for _ in range(steady_runs):
            sh(repo, "dvc", "repro", "--force")
        steady = [timed(repo, "dvc", "repro", "--force") for _ in range(repeats)]
        steady_noop = [timed(repo, "dvc", "repro") for _ in range(repeats)]

        per_stage = in_process(repo, STAGES)
        imports = {name: import_seconds(repo, f"stages.{name}") for name in STAGES}

    return {
        "noop_repro_s": {side: summary(v) for side, v in noop.items()},
        "noop_ratio": statistics.median(noop["real"]) / statistics.median(noop["empty"]),
        "full_repro_s": summary(full),
        "full_in_process_work_s": summary(work),
        "full_ratio": statistics.median(full) / statistics.median(work),
        "dvc_alone_full_repro_s": summary(alone_full),
        "dvc_alone_restoring_commands_s": summary(restoring),
        "dvc_alone_floor_plus_ratio": floor_plus(work, alone_full, restoring),
        "lr_change_rerun_s": summary(rerun),
        "lr_change_in_process_work_s": summary(rerun_work),
        "lr_change_ratio": statistics.median(rerun) / statistics.median(rerun_work),
        "steady_more_runs": steady_runs,
        "steady_full_repro_s": summary(steady),
        "steady_over_fresh_full_ratio": statistics.median(steady) / statistics.median(full),
        "steady_noop_repro_s": summary(steady_noop),
        "steady_over_fresh_noop_ratio": statistics.median(steady_noop) / statistics.median(noop["real"]),
        "stage_work_s": per_stage,
        "stage_import_s": imports,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steady-runs", type=int, default=15, help="runs before the steady-state rows")
    args = parser.parse_args()
    results = measure(args.repeats, args.steady_runs)

    table = Table(title=f"pipeline overhead, {os.cpu_count()} cores, median of {args.repeats}")
    for column in ("what", "millrace s", "floor s", "ratio", "goal"):
        table.add_column(column, justify="right")
    noop = results["noop_repro_s"]
    rows = [
        ("no-op dvc repro", noop["real"], noop["empty"], results["noop_ratio"], "≤ 1.2×"),
        ("full pipeline", results["full_repro_s"], results["full_in_process_work_s"], results["full_ratio"], "≤ 1.5×"),
        ("train.lr change", results["lr_change_rerun_s"], results["lr_change_in_process_work_s"],
         results["lr_change_ratio"], ""),
    ]  # fmt: skip
    for what, ours, floor, ratio, goal in rows:
        spread = f"{ours['median']:.2f} ({ours['min']:.2f}–{ours['max']:.2f})"
        table.add_row(what, spread, f"{floor['median']:.2f}", f"{ratio:.2f}×", goal)
    Console().print(table)
    steady, steady_noop = results["steady_full_repro_s"], results["steady_noop_repro_s"]
    print(
        f"after {results['steady_more_runs']} more runs in the workspace: full {steady['median']:.2f} s "
        f"({results['steady_over_fresh_full_ratio']:.2f}x the fresh copy's), "
        f"no-op {steady_noop['median']:.2f} s ({results['steady_over_fresh_noop_ratio']:.2f}x)"
    )
    restoring = results["dvc_alone_restoring_commands_s"]["median"]
    alone = results["dvc_alone_full_repro_s"]["median"]
    print(
        f"DVC alone, dvc repro --force: {alone - restoring:.2f} s of a full run whose stages copy their outputs "
        f"back ({alone:.2f} s, less {restoring:.2f} s of copying); "
        f"floor + that: {results['dvc_alone_floor_plus_ratio']:.2f}x the floor"
    )
    stages = Table(title="per stage: in-process work vs import time in a fresh interpreter")
    for column in ("stage", "work s", "import s"):
        stages.add_column(column, justify="right")
    for name in STAGES:
        stages.add_row(name, f"{results['stage_work_s'][name]:.2f}", f"{results['stage_import_s'][name]:.2f}")
    Console().print(stages)

    machine = {"cpus": os.cpu_count(), "python": sys.version.split()[0]}
    record = {"args": vars(args), "machine": machine, "measured": time.strftime("%Y-%m-%d"), **results}
    write_results("pipeline_overhead", record)


if __name__ == "__main__":
    main()
