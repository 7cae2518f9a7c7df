"""A DVC remote (a local directory here; S3/GCS/Azure are the same commands): `dvc push` from one
clone, `dvc pull` into a fresh one, and the fresh clone has every output without rerunning a stage."""

import pytest

from tests.helpers.harness import commit_all, sh, stages_run

pytestmark = pytest.mark.slow


def test_outputs_pushed_to_a_remote_are_pulled_into_a_fresh_clone(workspace, tmp_path):
    remote = tmp_path / "remote"
    sh(workspace, "dvc", "remote", "add", "--default", "storage", str(remote))
    commit_all(workspace, "declare the remote")  # .dvc/config travels with the repository
    pushed = sh(workspace, "dvc", "push")
    assert "pushed" in pushed.stdout and any(remote.rglob("*"))

    clone = tmp_path / "clone"
    sh(tmp_path, "git", "clone", "-q", str(workspace), str(clone))
    assert not (clone / "models/deploy/manifest.json").exists()
    sh(clone, "dvc", "pull")
    for output in ("data/label/train.parquet", "models/train/model.safetensors", "models/deploy/manifest.json"):
        assert (clone / output).read_bytes() == (workspace / output).read_bytes()
    assert "Data and pipelines are up to date" in sh(clone, "dvc", "status").stdout
    assert stages_run(sh(clone, "dvc", "repro").stdout) == []  # nothing to recompute on the second machine
