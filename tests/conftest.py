"""Shared fixtures: the project root, quiet and offline tools, and small frames."""

from __future__ import annotations

import fcntl
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from filelock import FileLock

from millrace.environment import prepare_process

ROOT = Path(__file__).resolve().parents[1]

prepare_process()  # as the entry points do: usage reporting off, for the tests and what they start
if os.environ.get("PYTEST_XDIST_WORKER"):
    # `make test` runs two workers on two cores: one torch thread each (inherited by every stage the
    # tests start), or the two workers' OpenMP pools spin against each other's.
    os.environ.setdefault("OMP_NUM_THREADS", "1")


def _shared_folder(tmp_path_factory) -> Path:
    """A folder of this test run that every pytest-xdist worker sees (each worker's base is its own)."""
    base = tmp_path_factory.getbasetemp()
    return base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base


@pytest.fixture(autouse=True)
def machine_share(request, tmp_path_factory) -> Iterator[None]:
    """Under pytest-xdist, a test marked `exclusive` (it measures latency under load) runs with no other
    test beside it: it closes a turnstile, waits for the tests running to end, and holds the machine;
    every other test passes the turnstile and shares the machine."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        yield
        return
    shared = _shared_folder(tmp_path_factory)
    exclusive = request.node.get_closest_marker("exclusive") is not None
    with open(shared / "turnstile.lock", "a") as turnstile, open(shared / "machine.lock", "a") as machine:
        fcntl.flock(turnstile, fcntl.LOCK_EX)
        fcntl.flock(machine, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        fcntl.flock(turnstile, fcntl.LOCK_UN)
        try:
            yield
        finally:
            fcntl.flock(machine, fcntl.LOCK_UN)


@pytest.fixture
def penguins() -> pd.DataFrame:
    from millrace.sources.builtin import load_builtin

    return load_builtin("penguins")


@pytest.fixture(scope="session")
def built_repo(tmp_path_factory) -> Path:
    """A copy of the repo on which the real `dvc repro` has run once, committed, with the network family pinned
    (`model.portfolio: [tabular_mlp]`): the tests of what only a network has (checkpoints, resuming, DDP, int8,
    pruning, distillation) share it. The default portfolio runs in tests/e2e/test_default_pipeline.py.

    Made once per test run: under pytest-xdist the first worker to need it builds it in the folder all
    workers share while the others wait, then every worker reads the same copy (tests copy it to change it).
    """
    from tests.helpers.harness import commit_all, copy_project, set_param, sh

    shared = _shared_folder(tmp_path_factory)
    repo, built = shared / "built" / "repo", shared / "built" / "done"
    with FileLock(shared / "built.lock"):
        if not built.exists():
            shutil.rmtree(repo.parent, ignore_errors=True)  # a worker that failed halfway
            copy_project(repo)
            set_param(repo, r"^  portfolio: .*$", "  portfolio: [tabular_mlp]")
            sh(repo, "dvc", "repro")
            commit_all(repo, "pipeline run")
            # Prefect's database (ignored by git) made once, as a machine's first flow run makes it (~11 s),
            # rather than in every copy that runs a flow.
            sh(repo, "python", "-c", "from flows.ephemeral import use_temporary_server; use_temporary_server()")
            built.touch()
    return repo


@pytest.fixture
def workspace(built_repo: Path, tmp_path: Path) -> Path:
    """A private copy of the finished workspace (git history and DVC cache included)."""
    target = tmp_path / "repo"
    shutil.copytree(built_repo, target, symlinks=True)
    return target
