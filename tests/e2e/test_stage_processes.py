"""A stage as the process DVC starts: lean imports, --help, Arrow's allocator, freed memory, a quick exit."""

from __future__ import annotations

import os
import platform
import subprocess
import sys

import pytest

from tests.conftest import ROOT

SKIPS_THE_LAST_COLLECTION = """
import atexit, sys
from millrace.entry import run_stage

class Cycle:
    def __del__(self):
        print("collected", flush=True)

def main():
    cycle = Cycle()
    cycle.me = cycle  # garbage only the collector would find
    atexit.register(print, "exit handler ran", flush=True)
    if sys.argv[1] == "failed":
        sys.exit("error: bad input")

run_stage(main)
"""


@pytest.mark.parametrize("outcome", ["ok", "failed"])
def test_a_stage_exits_without_the_interpreters_last_garbage_collection(outcome):
    """It walked every object torch, Lightning and GE made: ~1 s at the exit of a cold train."""
    ran = subprocess.run(
        [sys.executable, "-c", SKIPS_THE_LAST_COLLECTION, outcome], cwd=ROOT, capture_output=True, text=True
    )
    assert ran.stdout.splitlines() == ["exit handler ran"]
    assert ran.returncode == (0 if outcome == "ok" else 1)


# A table stage's pattern: a large block freed (glibc then raises its mmap threshold), then
# column-sized blocks made and freed with small survivors between them, which pin the heap.
CHURN = """
import sys
from millrace.memory import return_freed_memory

def rss_mb():
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith("VmRSS")) // 1024

if sys.argv[1] == "return":
    assert return_freed_memory()
big = b"x" * (30 << 20)
del big
columns, survivors = [], []
for i in range(20):
    columns.append(b"x" * (4 << 20))
    survivors.append(bytes(2000 + i))  # made at run time (a constant would be one shared object)
before = rss_mb()
columns.clear()
print(before - rss_mb())
"""


@pytest.mark.skipif(platform.libc_ver()[0] != "glibc", reason="the mmap threshold is glibc's")
def test_freed_column_sized_blocks_go_back_to_the_system():
    def given_back(mode: str) -> int:
        out = subprocess.run([sys.executable, "-c", CHURN, mode], capture_output=True, text=True, check=True)
        return int(out.stdout)

    assert given_back("keep") < 20  # glibc's default: the 80 MB stays in the process
    assert given_back("return") >= 70


PROBE = """
import stages.clean, pyarrow  # a stage module has imported pandas, and Arrow, before its main() runs
from millrace.entry import run_stage
print(pyarrow.default_memory_pool().backend_name)
run_stage(lambda: print(pyarrow.default_memory_pool().backend_name))
"""


def test_stage_processes_put_arrow_on_the_system_allocator():
    env = {k: v for k, v in os.environ.items() if k != "ARROW_DEFAULT_MEMORY_POOL"}
    out = subprocess.run([sys.executable, "-c", PROBE], capture_output=True, text=True, check=True, env=env)
    on_import, in_main = out.stdout.split()
    assert on_import != "system" and in_main == "system"  # importing changed nothing; the entry point did


"""Stages import only what they use, and importing them touches nothing heavy."""


def _loaded_after(module: str) -> set[str]:
    code = f"import sys, {module}; print(' '.join(sorted(sys.modules)))"
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    return set(out.stdout.split())


@pytest.mark.parametrize("module", ["stages.acquire", "stages.clean", "stages.label", "stages.select"])
def test_data_stages_do_not_import_torch_or_lightning(module):
    loaded = _loaded_after(module)
    assert "lightning" not in loaded
    assert "torch" not in loaded
    assert "prefect" not in loaded


def test_importing_stages_does_not_load_great_expectations_or_source_clients():
    loaded = _loaded_after("stages.acquire")
    assert not {"great_expectations", "httpx", "sqlalchemy", "openpyxl", "ftfy"} & loaded


@pytest.mark.parametrize("stage", ["acquire", "clean", "label", "select", "train", "evaluate", "deploy"])
def test_stage_help_describes_it_and_runs_nothing_heavy(stage):
    out = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", f"stages.{stage}", "--help"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    assert f"python -m stages.{stage}" in out.stdout
    assert stage in out.stdout.split("\n\n")[1]  # the module docstring
    imported = out.stderr
    assert "lightning" not in imported and "great_expectations" not in imported


def test_stage_refuses_unknown_arguments():
    out = subprocess.run([sys.executable, "-m", "stages.clean", "--bogus"], cwd=ROOT, capture_output=True, text=True)
    assert out.returncode == 2 and "unrecognized arguments: --bogus" in out.stderr
