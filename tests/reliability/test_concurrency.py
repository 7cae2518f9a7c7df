"""Two `dvc repro` at once on one workspace: one runs, the other fails fast and says why; a corrupt lock file."""

import subprocess
import time

import pytest

from tests.helpers.harness import set_param, sh, stages_run, tool_env
from tests.reliability.invariants import assert_invariants

pytestmark = pytest.mark.slow


def test_a_second_repro_fails_fast_while_the_first_finishes(workspace):
    set_param(workspace, r"^  parity_tolerance: .*$", "  parity_tolerance: 0.0002")  # work for the first run
    first = subprocess.Popen(
        ["dvc", "repro"],
        cwd=workspace,
        env=tool_env(workspace),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    seen = []
    for line in first.stdout:  # the repository lock is held from here until the run ends
        seen.append(line)
        if "Running stage 'deploy'" in line:
            break
    started = time.monotonic()
    second = sh(workspace, "dvc", "repro", check=False, timeout=120)
    waited = time.monotonic() - started
    rest, _ = first.communicate(timeout=300)

    said = second.stdout + second.stderr
    assert second.returncode != 0
    # DVC refuses at its repository lock or at the first stage whose files the first run holds.
    assert "Unable to acquire lock" in said or ("is busy" in said and "blocked by" in said), said
    assert stages_run(second.stdout) == []  # it ran nothing: never interleaved
    assert waited < 30
    assert first.returncode == 0, "".join(seen) + rest
    assert stages_run("".join(seen) + rest) == ["deploy"]
    assert stages_run(sh(workspace, "dvc", "repro").stdout) == []  # the first run recorded everything
    assert_invariants(workspace)


def test_a_corrupt_dvc_lock_file_is_an_error_with_what_to_do_not_a_hang(workspace):
    """A crash while DVC wrote .dvc/tmp/rwlock: `dvc repro` stops at once; the flows add what to do."""
    from flows.stage_task import CORRUPT_RWLOCK_HINT, _failure

    (workspace / ".dvc/tmp").mkdir(parents=True, exist_ok=True)
    (workspace / ".dvc/tmp/rwlock").write_text('{"write": {"data/acq')  # cut off mid-write
    result = sh(workspace, "dvc", "repro", "--single-item", "acquire", check=False, timeout=120)
    said = result.stdout + result.stderr
    assert result.returncode != 0 and "Unable to read RWLock-file" in said and stages_run(said) == []
    assert str(_failure("acquire", result.returncode, said.splitlines())).endswith(CORRUPT_RWLOCK_HINT)
    (workspace / ".dvc/tmp/rwlock").unlink()  # what the hint says to do
    assert "Data and pipelines are up to date" in sh(workspace, "dvc", "repro").stdout
    assert_invariants(workspace)
