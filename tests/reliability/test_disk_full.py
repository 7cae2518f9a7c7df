"""A disk that fills while a stage writes (here `ulimit -f`): a clear error, the previous outputs intact."""

import subprocess
from pathlib import Path

import pytest

from tests.helpers.harness import sh, tool_env
from tests.reliability.invariants import assert_invariants

pytestmark = pytest.mark.slow


def contents(repo: Path) -> dict[str, bytes]:
    return {str(p.relative_to(repo)): p.read_bytes() for p in (repo / "data/clean").rglob("*") if p.is_file()}


def test_a_full_disk_stops_the_stage_with_a_message_and_keeps_its_outputs(workspace):
    before = contents(workspace)
    result = subprocess.run(
        ["bash", "-c", "ulimit -f 8 && exec python -m stages.clean"],  # no file may grow past 8 KiB
        cwd=workspace,
        env=tool_env(workspace),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 1
    assert "error: out of disk space" in result.stderr and "the previous ones are intact" in result.stderr
    assert not result.stderr.rstrip().endswith("File too large")  # the message, not a traceback, comes last
    assert contents(workspace) == before
    leftovers = [p for top in ("data", "models", "reports") for p in (workspace / top).rglob("*.tmp")]
    assert not leftovers
    assert "up to date" in sh(workspace, "dvc", "status").stdout
    assert_invariants(workspace)
