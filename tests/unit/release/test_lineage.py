"""Lineage: DVC's own hashes of the data, the commit and what differed from it, the environment against the
lock, and a release stamped with all of it that still verifies."""

import json
import subprocess

import numpy

from millrace.files import sha256
from millrace.release import lineage
from millrace.serving.bundle import verify
from tests.helpers.harness import BIN


def git(repo, *args):
    subprocess.run(["git", *args], cwd=repo, check=True, capture_output=True)


def test_a_folders_hash_is_the_one_dvc_records(tmp_path):
    data = tmp_path / "data/label"
    (data / "nested").mkdir(parents=True)
    (data / "train.parquet").write_bytes(b"\x00rows\r\n")
    (data / "nested/notes.txt").write_text("a\r\nb\n")
    subprocess.run([str(BIN / "dvc"), "init", "--no-scm", "-q"], cwd=tmp_path, check=True)
    subprocess.run([str(BIN / "dvc"), "add", "-q", "data/label"], cwd=tmp_path, check=True)
    recorded = (tmp_path / "data/label.dvc").read_text()
    assert f"md5: {lineage.dvc_md5(data)}" in recorded
    assert lineage.dvc_md5(data / "train.parquet") != lineage.dvc_md5(data)


def test_the_checkout_is_dirty_only_for_changes_the_pipeline_did_not_write(tmp_path):
    git(tmp_path, "init", "-q")
    git(tmp_path, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "--allow-empty", "-m", "start")
    for name in ("stages/train.py", "dvc.lock", "reports/deploy.json", "models/selection.json"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text("x\n")
    git(tmp_path, "add", ".")
    git(tmp_path, "-c", "user.email=t@t", "-c", "user.name=t", "commit", "-q", "-m", "files")
    writes = ["reports", "models/selection.json"]
    clean = lineage.checkout(tmp_path, writes)
    assert len(clean["commit"]) == 40 and clean["dirty"] is False
    for name in ("dvc.lock", "reports/deploy.json", "models/selection.json"):
        (tmp_path / name).write_text("changed by a run\n")
    assert lineage.checkout(tmp_path, writes)["dirty"] is False
    (tmp_path / "stages/train.py").write_text("edited\n")
    (tmp_path / "new_module.py").write_text("")
    dirty = lineage.checkout(tmp_path, writes)
    assert dirty["dirty"] is True and dirty["changed"] == 2
    assert set(dirty["files"]) == {"stages/train.py", "new_module.py"}
    assert lineage.checkout(tmp_path / "stages", writes)["commit"] == clean["commit"]
    assert lineage.checkout(tmp_path.parent / "elsewhere-not-git", writes)["commit"] is None


def test_the_environment_is_compared_with_the_lock(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "requirements.lock").write_text(f"# pins\nnumpy=={numpy.__version__}\nsix==0.0.1\n")
    found = lineage.environment()
    assert found["requirements_lock_sha256"] == sha256(tmp_path / "requirements.lock")
    assert found["packages"]["numpy"] == numpy.__version__
    assert len(found["differs_from_lock"]) == 1 and found["differs_from_lock"][0].startswith("six==0.0.1 (installed")


def test_a_stamped_release_carries_its_lineage_in_manifest_and_card_and_still_verifies(tmp_path, monkeypatch):
    release = tmp_path / "release"
    release.mkdir()
    (release / "model.onnx").write_bytes(b"graph")
    (release / "MODEL_CARD.md").write_text("# Model card\n")
    manifest = {
        "version": "v1",
        "model_name": "penguins-species",
        "lineage": {"data": {"data/label": "abc.dir"}},
        "params": {"data": {}, "train": {}},
        "metrics": {"validation": {"accuracy": 0.97}, "test": {"accuracy": 0.95}},
        "files": {"model.onnx": sha256(release / "model.onnx"), "MODEL_CARD.md": sha256(release / "MODEL_CARD.md")},
    }
    (release / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.chdir(tmp_path)
    record = lineage.record(tmp_path, [], parent="v0", by="deploy")
    lineage.stamp(release, record)
    stamped = json.loads((release / "manifest.json").read_text())["lineage"]
    assert stamped["data"] == {"data/label": "abc.dir"} and stamped["parent"] == "v0"
    assert stamped["git"]["commit"] is None  # tmp_path is no git checkout: said, not guessed
    card = (release / "MODEL_CARD.md").read_text()
    assert card.startswith("# Model card\n") and "## Lineage" in card
    assert "parent release: `v0`" in card and "data/label `abc.dir`" in card and "test: accuracy 0.9500" in card
    verify(release)
