"""Shared fixtures: the project root, quiet and offline tools, and small frames."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

ROOT = Path(__file__).resolve().parents[1]

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("DO_NOT_TRACK", "1")
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


@pytest.fixture
def penguins() -> pd.DataFrame:
    from stages.acquire import load_builtin

    return load_builtin("penguins")


@pytest.fixture(scope="session")
def built_repo(tmp_path_factory) -> Path:
    """A copy of the repo on which the real `dvc repro` has run once, committed."""
    from tests.harness import commit_all, copy_project, sh

    repo = copy_project(tmp_path_factory.mktemp("built") / "repo")
    sh(repo, "dvc", "repro")
    commit_all(repo, "pipeline run")
    # Prefect's database (ignored by git) made once, as a machine's first flow run makes it (~11 s), rather
    # than in every copy that runs a flow.
    sh(repo, "python", "-c", "from flows.ephemeral import use_temporary_server; use_temporary_server()")
    return repo


@pytest.fixture
def workspace(built_repo: Path, tmp_path: Path) -> Path:
    """A private copy of the finished workspace (git history and DVC cache included)."""
    target = tmp_path / "repo"
    shutil.copytree(built_repo, target, symlinks=True)
    return target
