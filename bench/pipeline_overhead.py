"""What orchestration costs: `dvc repro` of the real pipeline against its floors, side by side.

1. No-op `dvc repro` (everything up to date) of the real pipeline vs the same seven-stage DAG of
   empty scripts: DVC's fixed cost against the cost of checking the real deps, params and outs.
2. The default pipeline from scratch (`dvc repro --force`) vs the sum of the stages' work done
   in one warm Python process (each stage's `main()`, imports already paid): what process
   start-up, imports and DVC bookkeeping add.
3. A `train.lr` change: the rerun of train → evaluate → deploy vs those stages' in-process work.
   Both 2 and 3 also with MILLRACE_WARM=1 (stages/warm.py): each stage forked from a worker that has
   imported the libraries once — started by the run itself (no worker before it), and already running.
   And 1, 2 and 3 as `make run` runs DVC: `python -m stages.dvc_command repro`, with MILLRACE_WARM=1 DVC
   itself forked from the worker (the no-op's floor then the empty DAG's DVC in the worker too).
4. Import time of each stage module in a fresh interpreter (what each `python -m stages.<name>` pays).
5. Steady state: the warm full run and the no-op again after `--steady-runs` more runs in the same workspace,
   against the fresh copy's: what a workspace accumulates (GE's stored results, Data Docs, releases, logs)
   must not make every run slower.
6. DVC alone: the full run (`dvc repro --force`, and as `make run` runs it with the worker up) of a copy of the
   finished project whose stage commands copy back the outputs a real run made instead of computing them, less
   those copies' own time: DVC's own work on this pipeline (status, hashing and caching the outputs, rewriting
   dvc.lock after every stage). The floor plus that is the least any run that DVC drives can take.

Runs in temporary copies of the project; measurements alternate between the sides and repeat.
`python -m bench.pipeline_overhead [--repeats N] [--steady-runs N]`; writes bench/results/pipeline_overhead.json.
"""

from __future__ import annotations

import argparse
import atexit
import json
import os
import resource
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
from flows import QUIET_ENV
from stages.dvc_command import dvc_command  # `make run`'s DVC: with MILLRACE_WARM=1 it runs in the warm worker

ROOT = Path(__file__).resolve().parents[1]
STAGES = ["acquire", "clean", "label", "select", "train", "evaluate", "deploy"]
MODULES = {"train": "stages.train.__main__"}

# Imports already paid: the libraries the warm worker preloads, in its order, before any `main()`
# (stages import some of them inside `main()`). Until 2026-11-24 the floor paid those imports in the
# stage that first needed them (GE in acquire, torch in select), and imported scikit-learn's linear
# models before torch, which made evaluate's gradient boosting ~1 s slower (two libgomp copies).
IN_PROCESS = """
import gc, importlib, json, sys, time
from stages.warm import DEFAULT_PRELOAD
for library in DEFAULT_PRELOAD:
    importlib.import_module(library)
gc.freeze()  # as the worker does: otherwise the collector walks the imported heap again and again
names = sys.argv[1].split(",")
modules = {n: importlib.import_module(m) for n, m in json.loads(sys.argv[2]).items()}
timings = {}
for name in names:
    start = time.perf_counter()
    modules[name].main()
    timings[name] = time.perf_counter() - start
print(json.dumps(timings))
"""


# Before a run with the worker up: the pause of a person's next run (the last run's writes settle, the worker is idle).
PAUSE_S = 3.0
# The warm worker's folder (a short path: it holds a Unix socket), this benchmark's own.
WARM_TMP = tempfile.mkdtemp(prefix="mw", dir="/tmp")
atexit.register(shutil.rmtree, WARM_TMP, True)


def environment(warm: bool = False) -> dict[str, str]:
    bin_dir = Path(sys.executable).parent
    return {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        **QUIET_ENV,  # DVC's own switch among them: the empty DAG's fresh `dvc init` would report usage
        "PYTHONPATH": "",
        "MILLRACE_WARM": "1" if warm else "0",
        "TMPDIR": WARM_TMP,
    }


def sh(cwd: Path, *args: str, warm: bool = False) -> subprocess.CompletedProcess:
    result = subprocess.run(args, cwd=cwd, env=environment(warm), capture_output=True, text=True)
    if result.returncode != 0:
        raise SystemExit(f"{' '.join(args)} failed in {cwd}:\n{result.stdout}\n{result.stderr}")
    return result


def timed(cwd: Path, *args: str, warm: bool = False) -> float:
    start = time.perf_counter()
    sh(cwd, *args, warm=warm)
    return time.perf_counter() - start


def timed_cpu(cwd: Path, *args: str, warm: bool = False) -> tuple[float, float]:
    """Wall seconds, and the CPU seconds of the command and the processes it waited for.

    With the warm worker running, those are `dvc` and each stage's `python -m` command, not the stages'
    work (forked from the worker, which is nobody's waited-for child here): what orchestration costs.
    """
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    seconds = timed(cwd, *args, warm=warm)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return seconds, after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime


def stop_warm_workers(cwd: Path) -> None:
    sh(cwd, sys.executable, "-m", "stages.warm", "stop")


def preloaded_workers() -> int:
    """How many of this benchmark's warm workers have finished preloading (a worker's log is kept by the next
    one with the same key)."""
    logs = Path(WARM_TMP, f"millrace-warm-{os.getuid()}")
    return sum(log.read_text().count("ready: preloaded") for log in logs.glob("*.log"))


def wait_for_preload(before: int, seconds: float = 300) -> None:
    """Wait until a worker started after `before` workers had preloaded has preloaded everything too."""
    deadline = time.monotonic() + seconds
    while preloaded_workers() == before:
        if time.monotonic() > deadline:
            raise SystemExit(f"the warm worker did not finish preloading in {seconds:g} s (logs: {WARM_TMP})")
        time.sleep(0.2)


def start_warm_worker(cwd: Path, seconds: float = 300) -> None:
    """Start this benchmark's warm worker and wait until it has preloaded everything."""
    before = preloaded_workers()
    sh(cwd, sys.executable, "-m", "stages.acquire", "--help", warm=True)  # finds none: starts it, runs cold
    wait_for_preload(before, seconds)


def first_run(cwd: Path, command: list[str]) -> float:
    """Seconds of a warm `command` that finds no worker and starts one; then wait as between two runs: for the
    worker to import what it imports once idle (DVC, the flows', the stages' first-use modules), and PAUSE_S."""
    stop_warm_workers(cwd)
    before = preloaded_workers()
    seconds = timed(cwd, *command, warm=True)
    wait_for_preload(before)
    time.sleep(PAUSE_S)
    return seconds


def git_repo(directory: Path) -> None:
    sh(directory, "git", "init", "-q", "-b", "main")
    sh(directory, "git", "-c", "user.name=bench", "-c", "user.email=bench@millrace.invalid", "add", "-A")
    sh(directory, "git", "-c", "user.name=bench", "-c", "user.email=bench@millrace.invalid", "commit", "-qm", "bench")


def project_copy(destination: Path) -> Path:
    """What a fresh clone holds, without outputs, as a git repo."""
    listed = subprocess.run(["git", "ls-files", "-co", "--exclude-standard", "-z"], cwd=ROOT, capture_output=True)
    for name in filter(None, listed.stdout.decode().split("\0")):
        source = ROOT / name
        output = name.startswith(("reports/", "models/")) and name != "reports/review_verdicts.csv"  # an input
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
    modules = {name: MODULES.get(name, f"stages.{name}") for name in stages}
    out = sh(repo, sys.executable, "-c", IN_PROCESS, ",".join(stages), json.dumps(modules)).stdout
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

        full, work, warm_first, warm_running, orchestration_cpu = [], [], [], [], []
        make_first, make_running = [], []  # DVC as `make run` runs it, in the warm worker
        alone_full, alone_make, restoring = [], [], []  # DVC's own work: the stages copy their outputs back
        for _ in range(repeats):
            work.append(sum(in_process(repo, STAGES).values()))
            full.append(timed(repo, "dvc", "repro", "--force"))
            alone_full.append(timed(alone, "dvc", "repro", "--force"))
            restoring.append(restoring_seconds(alone, outputs))
            warm_first.append(first_run(repo, ["dvc", "repro", "--force"]))
            seconds, cpu = timed_cpu(repo, "dvc", "repro", "--force", warm=True)
            warm_running.append(seconds)
            orchestration_cpu.append(cpu)
            make_first.append(first_run(repo, dvc_command("repro", "--force")))
            make_running.append(timed(repo, *dvc_command("repro", "--force"), warm=True))
            # Started from the real copy, so that DVC runs in the same (running) worker, and changes to the copy.
            alone_make.append(timed(repo, *dvc_command("--cd", str(alone), "repro", "--force"), warm=True))

        # The no-op with DVC in the warm worker on both sides. The empty DAG's is started from the real copy, where
        # `stages` is found (the same sys.path, so the same worker), and DVC changes to the empty DAG's folder.
        noop_make = {"real": [], "empty": []}
        for _ in range(repeats):
            noop_make["empty"].append(timed(repo, *dvc_command("--cd", str(floor), "repro"), warm=True))
            noop_make["real"].append(timed(repo, *dvc_command("repro"), warm=True))

        rerun, rerun_work, rerun_warm, rerun_make = [], [], [], []
        params = (repo / "params.yaml").read_text()
        sides = (
            (["dvc", "repro"], False, rerun),
            (["dvc", "repro"], True, rerun_warm),
            (dvc_command("repro"), True, rerun_make),
        )
        for i in range(repeats):
            for j, (command, warm, times) in enumerate(sides):
                lr = 0.011 + (len(sides) * i + j) / 1000
                (repo / "params.yaml").write_text(params.replace("  lr: 0.01\n", f"  lr: {lr:.3f}\n"))
                times.append(timed(repo, *command, warm=warm))
            rerun_work.append(sum(in_process(repo, ["train", "evaluate", "deploy"]).values()))
        (repo / "params.yaml").write_text(params)

        # What a workspace accumulates run after run (GE's stored results and Data Docs, releases, logs) must not
        # make each run slower: the same warm run again after `steady_runs` more in this workspace.
        for _ in range(steady_runs):
            sh(repo, "dvc", "repro", "--force", warm=True)
        steady = []
        for _ in range(repeats):
            time.sleep(PAUSE_S)  # as before the fresh copy's runs: compared after the same pause
            steady.append(timed(repo, "dvc", "repro", "--force", warm=True))
        steady_noop = [timed(repo, "dvc", "repro") for _ in range(repeats)]
        stop_warm_workers(repo)

        per_stage = in_process(repo, STAGES)
        imports = {name: import_seconds(repo, MODULES.get(name, f"stages.{name}")) for name in STAGES}

    return {
        "noop_repro_s": {side: summary(v) for side, v in noop.items()},
        "noop_ratio": statistics.median(noop["real"]) / statistics.median(noop["empty"]),
        "full_repro_s": summary(full),
        "full_in_process_work_s": summary(work),
        "full_ratio": statistics.median(full) / statistics.median(work),
        "full_warm_first_run_s": summary(warm_first),
        "full_warm_first_run_ratio": statistics.median(warm_first) / statistics.median(work),
        "full_warm_worker_running_s": summary(warm_running),
        "full_warm_worker_running_ratio": statistics.median(warm_running) / statistics.median(work),
        "full_warm_worker_running_dvc_and_commands_cpu_s": summary(orchestration_cpu),
        "noop_dvc_in_worker_s": {side: summary(v) for side, v in noop_make.items()},
        "noop_dvc_in_worker_ratio": statistics.median(noop_make["real"]) / statistics.median(noop_make["empty"]),
        "full_dvc_in_worker_first_run_s": summary(make_first),
        "full_dvc_in_worker_first_run_ratio": statistics.median(make_first) / statistics.median(work),
        "full_dvc_in_worker_running_s": summary(make_running),
        "full_dvc_in_worker_running_ratio": statistics.median(make_running) / statistics.median(work),
        "dvc_alone_full_repro_s": summary(alone_full),
        "dvc_alone_full_dvc_in_worker_s": summary(alone_make),
        "dvc_alone_restoring_commands_s": summary(restoring),
        "dvc_alone_floor_plus_ratio": floor_plus(work, alone_full, restoring),
        "dvc_alone_dvc_in_worker_floor_plus_ratio": floor_plus(work, alone_make, restoring),
        "lr_change_rerun_s": summary(rerun),
        "lr_change_in_process_work_s": summary(rerun_work),
        "lr_change_ratio": statistics.median(rerun) / statistics.median(rerun_work),
        "lr_change_warm_rerun_s": summary(rerun_warm),
        "lr_change_warm_ratio": statistics.median(rerun_warm) / statistics.median(rerun_work),
        "lr_change_dvc_in_worker_s": summary(rerun_make),
        "lr_change_dvc_in_worker_ratio": statistics.median(rerun_make) / statistics.median(rerun_work),
        "steady_more_runs": steady_runs,
        "steady_full_warm_worker_running_s": summary(steady),
        "steady_over_fresh_warm_ratio": statistics.median(steady) / statistics.median(warm_running),
        "steady_noop_repro_s": summary(steady_noop),
        "steady_over_fresh_noop_ratio": statistics.median(steady_noop) / statistics.median(noop["real"]),
        "stage_work_s": per_stage,
        "stage_import_s": imports,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steady-runs", type=int, default=15, help="warm runs in the workspace before the last row")
    args = parser.parse_args()
    results = measure(args.repeats, args.steady_runs)

    table = Table(title=f"pipeline overhead, {os.cpu_count()} cores, median of {args.repeats}")
    for column in ("what", "millrace s", "floor s", "ratio", "goal"):
        table.add_column(column, justify="right")
    noop = results["noop_repro_s"]
    rows = [
        ("no-op dvc repro", noop["real"], noop["empty"], results["noop_ratio"], "≤ 1.2×"),
        ("full pipeline", results["full_repro_s"], results["full_in_process_work_s"], results["full_ratio"], "≤ 1.5×"),
        ("full, warm, worker started by the run", results["full_warm_first_run_s"],
         results["full_in_process_work_s"], results["full_warm_first_run_ratio"], "≤ 1.5×"),
        ("full, warm, worker running", results["full_warm_worker_running_s"], results["full_in_process_work_s"],
         results["full_warm_worker_running_ratio"], "≤ 1.5×"),
        ("train.lr change", results["lr_change_rerun_s"], results["lr_change_in_process_work_s"],
         results["lr_change_ratio"], ""),
        ("train.lr change, warm, worker running", results["lr_change_warm_rerun_s"],
         results["lr_change_in_process_work_s"], results["lr_change_warm_ratio"], ""),
        ("make run's DVC in the worker: no-op (floor: the empty DAG's, too)", results["noop_dvc_in_worker_s"]["real"],
         results["noop_dvc_in_worker_s"]["empty"], results["noop_dvc_in_worker_ratio"], ""),
        ("make run's DVC: full, worker started by the run", results["full_dvc_in_worker_first_run_s"],
         results["full_in_process_work_s"], results["full_dvc_in_worker_first_run_ratio"], "≤ 1.5×"),
        ("make run's DVC: full, worker running", results["full_dvc_in_worker_running_s"],
         results["full_in_process_work_s"], results["full_dvc_in_worker_running_ratio"], "≤ 1.5×"),
        ("make run's DVC: train.lr change, worker running", results["lr_change_dvc_in_worker_s"],
         results["lr_change_in_process_work_s"], results["lr_change_dvc_in_worker_ratio"], ""),
    ]  # fmt: skip
    for what, ours, floor, ratio, goal in rows:
        spread = f"{ours['median']:.2f} ({ours['min']:.2f}–{ours['max']:.2f})"
        table.add_row(what, spread, f"{floor['median']:.2f}", f"{ratio:.2f}×", goal)
    Console().print(table)
    steady, steady_noop = results["steady_full_warm_worker_running_s"], results["steady_noop_repro_s"]
    print(
        f"after {results['steady_more_runs']} more runs in the workspace: full, warm, worker running "
        f"{steady['median']:.2f} s ({results['steady_over_fresh_warm_ratio']:.2f}x the fresh copy's), "
        f"no-op {steady_noop['median']:.2f} s ({results['steady_over_fresh_noop_ratio']:.2f}x)"
    )
    cpu = results["full_warm_worker_running_dvc_and_commands_cpu_s"]["median"]
    work = results["full_in_process_work_s"]["median"]
    print(
        f"full, warm, worker running: dvc and the stage commands used {cpu:.2f} s of CPU, serial with the stages "
        f"(floor + that: {(work + cpu) / work:.2f}x the floor)"
    )
    restoring = results["dvc_alone_restoring_commands_s"]["median"]
    for what, key, ratio in [
        ("dvc repro --force", "dvc_alone_full_repro_s", "dvc_alone_floor_plus_ratio"),
        (
            "make run's DVC, worker running",
            "dvc_alone_full_dvc_in_worker_s",
            "dvc_alone_dvc_in_worker_floor_plus_ratio",
        ),
    ]:
        print(
            f"DVC alone, {what}: {results[key]['median'] - restoring:.2f} s of a full run whose stages copy their "
            f"outputs back ({results[key]['median']:.2f} s, less {restoring:.2f} s of copying); "
            f"floor + that: {results[ratio]:.2f}x the floor"
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
