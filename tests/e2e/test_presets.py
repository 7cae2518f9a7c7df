"""`millrace preset` on a real git checkout: it applies a preset, and refuses to overwrite uncommitted edits."""

import pytest
import yaml

from tests.helpers.harness import commit_all, copy_project, sh

pytestmark = pytest.mark.slow


def test_a_preset_is_applied_and_uncommitted_edits_are_never_overwritten(tmp_path):
    repo = copy_project(tmp_path / "repo")
    applied = sh(repo, "millrace", "preset", "examples/iris.yaml")
    assert "data.source" in applied.stdout and "next: `dvc repro`" in applied.stdout
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["data"]["source"] == {"kind": "builtin", "name": "iris"} and params["train"]["lr"] == 0.01
    assert "# millrace: everything a user changes lives here" in (repo / "params.yaml").read_text()

    before = (repo / "params.yaml").read_text()
    refused = sh(repo, "millrace", "preset", "examples/digits.yaml", check=False)
    assert refused.returncode == 1 and "uncommitted edits" in refused.stderr and "Traceback" not in refused.stderr
    assert (repo / "params.yaml").read_text() == before

    commit_all(repo, "iris")
    sh(repo, "millrace", "preset", "examples/digits.yaml")
    params = yaml.safe_load((repo / "params.yaml").read_text())
    assert params["data"]["source"]["name"] == "digits" and params["data"]["features"] is None
    assert params["gates"]["labels"]["min_class_share"] == 0.2  # iris's: a preset changes only what it names

    (tmp_path / "bad.yaml").write_text("train: {lr: -1}\n")
    before = (repo / "params.yaml").read_text()
    bad = sh(repo, "millrace", "preset", "--force", str(tmp_path / "bad.yaml"), check=False)
    assert bad.returncode == 1 and "train.lr" in bad.stderr and "bad.yaml" in bad.stderr
    assert (repo / "params.yaml").read_text() == before  # nothing half-written
