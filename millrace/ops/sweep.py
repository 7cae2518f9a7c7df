"""sweep: every combination of `sweep.grid` as a queued DVC experiment, `sweep.jobs` running at once.

Each point of the cartesian product is queued with `dvc exp run --queue -S key=value …` and
`dvc queue start -j <jobs>` runs them, each in its own temporary copy of the workspace: the
workspace is left alone and two experiments never share files. DVC sometimes loses an experiment
that its queue reports a success (two workers finishing at once: the ref of one never reaches the
repository, treeverse/dvc#8014); each is checked against `dvc exp list` and a lost one is run again
(`dvc exp run --temp`). When all are done the experiments are ranked (`millrace compare`: best first,
curves of the best against the baseline); a failed one is named with the end of its log and the
command exits 1.
Run: `millrace sweep [--jobs N]` or `make sweep`.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import subprocess
import time
from itertools import product
from pathlib import Path
from typing import Any

import yaml

from millrace.config.params import PARAMS_FILE, parse_params
from millrace.errors import MillraceError
from millrace.ops.dvc import dvc_executable

POLL_SECONDS = 2.0
DONE = {"Success", "Failed"}


def _literal(value: Any) -> str:
    """A value in the override grammar `dvc exp run -S` reads (Hydra's)."""
    if isinstance(value, bool):
        return str(value).lower()
    if value is None:
        return "null"
    if isinstance(value, str) and not re.fullmatch(r"[\w.\-/]+", value):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    return str(value)


def overrides(raw: dict[str, Any], grid: dict[str, list[Any]]) -> list[list[str]]:
    """`-S` arguments for each point of the grid; every key must exist in params.yaml and every value
    pass its schema."""
    for key, values in grid.items():
        *parents, leaf = key.split(".")
        section = raw
        for part in parents:
            section = section.get(part) if isinstance(section, dict) else None
        if not isinstance(section, dict) or leaf not in section:
            raise MillraceError(f"sweep.grid: {key!r} is not a key of params.yaml")
        for value in values:
            changed = copy.deepcopy(raw)
            target = changed
            for part in parents:
                target = target[part]
            target[leaf] = value
            parse_params(changed, f"params.yaml with {key}={value!r} (sweep.grid)")
    keys = list(grid)
    return [[f"{k}={_literal(v)}" for k, v in zip(keys, point, strict=True)] for point in product(*grid.values())]


def describe(grid: dict[str, list[Any]]) -> str:
    """train.lr=0.02,0.03 × train.max_epochs=3"""
    return " × ".join(f"{key}={','.join(_literal(v) for v in values)}" for key, values in grid.items())


def _dvc(*args: str, check: bool = True, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([dvc_executable(), *args], capture_output=True, text=True, env=env)
    if check and result.returncode != 0:
        raise MillraceError(f"dvc {' '.join(args)} failed: {(result.stderr or result.stdout).strip()[-500:]}")
    return result


def worker_environment(jobs: int, cores: int | None = None) -> dict[str, str]:
    """The queue workers' environment: each of the `jobs` experiments at once gets its share of the cores.

    torch and scikit-learn each start an OpenMP thread per core; two experiments at once on two cores ran
    four busy-waiting threads: two `evaluate` stages at once took 5–24 s, and 4.2 s every time with one
    thread each. A thread count the user set (OMP_NUM_THREADS) stands.
    """
    env = dict(os.environ)
    env.setdefault("OMP_NUM_THREADS", str(max(1, (cores or os.cpu_count() or 1) // jobs)))
    return env


def queue(points: list[list[str]]) -> dict[str, list[str]]:
    """Queue one experiment per point; each one's name, as DVC gave it, and its arguments."""
    queued = {}
    for arguments in points:
        said = _dvc("exp", "run", "--queue", *(f"-S{argument}" for argument in arguments)).stdout
        names = re.findall(r"Queued experiment '([^']+)'", said)
        if len(names) != 1:
            raise MillraceError(f"dvc queued {len(names)} experiments for {arguments}: {said.strip()[-300:]}")
        queued[names[0]] = arguments
    return queued


def recorded() -> set[str]:
    """The experiments DVC holds for the workspace's commit."""
    return set(_dvc("exp", "list", "--name-only").stdout.split())


def run_lost(queued: dict[str, list[str]], found: dict[str, str], console: Any) -> None:
    """Run again, one at a time, each experiment the queue calls a success but DVC did not record."""
    held = recorded()
    for name in [n for n, status in found.items() if status == "Success" and n not in held]:
        console.print(
            f"[yellow]{name} finished but DVC did not record it (treeverse/dvc#8014: two queue workers "
            f"finishing at once); running {' '.join(queued[name])} again[/]"
        )
        said = _dvc("exp", "run", "--temp", *(f"-S{argument}" for argument in queued[name])).stdout
        again = re.findall(r"Ran experiment\(s\): (\S+)", said)
        if not again or again[0] not in recorded():
            raise MillraceError(f"experiment {' '.join(queued[name])} was lost by DVC twice: {said.strip()[-300:]}")
        found[again[0]] = found.pop(name)


def statuses(names: list[str]) -> tuple[dict[str, str], bool]:
    """Each named experiment's queue status, and whether any queue worker is still alive."""
    said = _dvc("queue", "status").stdout
    found = {}
    for line in said.splitlines():
        fields = line.split()
        if len(fields) >= 3 and fields[1] in names:
            found[fields[1]] = fields[-1]
    workers = re.search(r"Worker status: (\d+) active, (\d+) idle", said)
    alive = workers is None or int(workers.group(1)) + int(workers.group(2)) > 0
    return found, alive


def wait(names: list[str], console: Any) -> dict[str, str]:
    seen: dict[str, str] = {}
    while True:
        found, alive = statuses(names)
        for name, status in found.items():
            if seen.get(name) != status:
                console.print(f"  {name}: {status}")
        seen = found
        if len(found) == len(names) and set(found.values()) <= DONE:
            return found
        if not alive and not any(status == "Running" for status in found.values()):
            waiting = [name for name in names if found.get(name) not in DONE]
            raise MillraceError(f"the queue workers stopped with {waiting} not run; `dvc queue start` runs them")
        time.sleep(POLL_SECONDS)


def main(argv: list[str] | None = None) -> None:
    from rich.console import Console

    from millrace.ops import compare

    parser = argparse.ArgumentParser(prog="millrace sweep", description=__doc__)
    parser.add_argument("--jobs", type=int, help="experiments running at once (default: sweep.jobs)")
    args = parser.parse_args(argv)
    raw = yaml.safe_load(Path(PARAMS_FILE).read_text()) or {}
    params = parse_params(raw)
    if not params.sweep.grid:
        raise MillraceError("sweep.grid is empty: declare the values to try, e.g. {train.lr: [0.003, 0.01]}")
    points = overrides(raw, params.sweep.grid)
    console = Console(soft_wrap=True)
    queued = queue(points)
    names = list(queued)
    jobs = args.jobs or params.sweep.jobs
    console.print(f"queued {len(names)} experiments ({describe(params.sweep.grid)}); running {jobs} at a time")
    _dvc("queue", "start", "-j", str(jobs), env=worker_environment(jobs))
    found = wait(names, console)
    run_lost(queued, found, console)
    failed = [name for name, status in found.items() if status == "Failed"]
    for name in failed:
        log = _dvc("queue", "logs", name, check=False)
        console.print(f"[red]{name} failed[/]; the end of its log:\n" + "\n".join(log.stdout.splitlines()[-15:]))
    if len(failed) < len(names):
        compare.main([])
    if failed:
        raise MillraceError(f"{len(failed)} of {len(names)} experiments failed: {', '.join(failed)}")
