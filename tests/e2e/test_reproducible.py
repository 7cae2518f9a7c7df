"""A run leaves git clean: a fresh clone of a finished run, run again elsewhere, writes the same bytes.

What DVC records in git-tracked files (dvc.lock's output hashes, metrics, plot data, gate results,
reports) carries no time, duration, run id, absolute path or machine-specific figure; those go to
untracked logs under .millrace/logs.
"""

import json

import pytest

from tests.helpers.harness import sh, stages_run

pytestmark = pytest.mark.slow

STAGES = ["acquire", "clean", "label", "select", "train", "evaluate", "deploy"]


def test_a_fresh_clone_of_a_finished_run_reruns_to_the_same_bytes_and_leaves_git_clean(built_repo, tmp_path):
    clone = tmp_path / "somewhere" / "else" / "repo"  # another absolute path than the run that was committed
    sh(tmp_path, "git", "clone", "-q", str(built_repo), str(clone))  # git's files only: no DVC cache, no outputs
    assert (clone / "dvc.lock").is_file() and not (clone / "models" / "deploy").exists()
    ran = sh(clone, "dvc", "repro", "--force")  # every stage, those whose outputs git holds too
    assert stages_run(ran.stdout) == STAGES
    assert sh(clone, "git", "status", "--porcelain").stdout == ""
    again = sh(clone, "dvc", "repro")  # and a second run: nothing to do, nothing changes
    assert stages_run(again.stdout) == [] and sh(clone, "git", "status", "--porcelain").stdout == ""

    timings = json.loads((clone / ".millrace/logs/deploy_timings.json").read_text())
    assert timings["variants"]["fp32"]["latency_ms_p50"] > 0  # measured, kept out of git
    deployed = json.loads((clone / "models/deploy/manifest.json").read_text())
    assert timings["version"] == deployed["version"] and "created_at" not in deployed
