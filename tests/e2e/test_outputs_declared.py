"""The pipeline writes nothing in the project that dvc.yaml does not declare, beyond what git ignores.

A file a stage writes without declaring it is not cached, not restored by `dvc checkout` or from the
run cache (it keeps what the last run wrote, whatever DVC restored around it), and if git sees it,
`dvc exp run` commits it into every experiment. Local state (GE's stores, resume checkpoints, the
release registry) is fine where .gitignore keeps it out of git.
"""

import os
from pathlib import Path

import pytest
import yaml

from tests.helpers.harness import sh

pytestmark = pytest.mark.slow


def _files(repo: Path) -> dict[str, int]:
    found = {}
    for folder, subfolders, names in os.walk(repo):
        subfolders[:] = [name for name in subfolders if name not in (".git", ".dvc")]
        for name in names:
            path = Path(folder, name)
            found[path.relative_to(repo).as_posix()] = path.stat().st_mtime_ns
    return found


def _declared(repo: Path) -> list[str]:
    lock = yaml.safe_load((repo / "dvc.lock").read_text())
    return [out["path"] for stage in lock["stages"].values() for out in stage.get("outs", [])]


def _under(path: str, outs: list[str]) -> bool:
    return any(path == out or path.startswith(f"{out.rstrip('/')}/") for out in outs)


def test_a_forced_run_writes_only_declared_outputs_and_ignored_state(workspace):
    before = _files(workspace)
    sh(workspace, "dvc", "repro", "--force")
    after = _files(workspace)
    written = [path for path, stamp in after.items() if before.get(path) != stamp and path != "dvc.lock"]
    assert any(path.startswith("gx/uncommitted/") for path in written)  # ignored state is seen, and allowed
    undeclared = [path for path in written if not _under(path, _declared(workspace))]
    ignored = set(sh(workspace, "git", "check-ignore", *undeclared, check=False).stdout.split())
    assert [path for path in undeclared if path not in ignored] == []
