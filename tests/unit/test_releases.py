"""The release registry on disk: register once per weights, promote, roll back, and say what is wrong."""

import json

import pytest

from stages import releases
from stages.errors import MillraceError
from stages.io import folder_sha256, sha256


def bundle(tmp_path, version: str, weights: str):
    directory = tmp_path / "bundles" / version
    directory.mkdir(parents=True)
    manifest = {"version": version, "weights_sha256": weights, "task": "classification", "metrics": {"test": {}}}
    (directory / "model.onnx").write_bytes(b"onnx " + weights.encode())
    (directory / "edge").mkdir()
    (directory / "edge/loader.py").write_text("# loader\n")
    manifest["files"] = {"model.onnx": sha256(directory / "model.onnx"), "edge/": folder_sha256(directory / "edge")}
    (directory / "manifest.json").write_text(json.dumps(manifest))
    return directory


def test_register_promote_and_roll_back(tmp_path):
    root = tmp_path / "releases"
    assert releases.active(root) is None and releases.versions(root) == []
    first = releases.register(bundle(tmp_path, "20260101T000000Z-aaaa", "a" * 64), root)
    assert releases.register(bundle(tmp_path, "20260102T000000Z-aaaa", "a" * 64), root) == first  # same weights
    second = releases.register(bundle(tmp_path, "20260103T000000Z-bbbb", "b" * 64), root)
    assert releases.versions(root) == [first, second]
    assert releases.promote(root, first, "deploy") is None
    assert releases.promote(root, second, "deploy") == first
    assert releases.active(root) == second and (root / second / "model.onnx").read_bytes() == b"onnx " + b"b" * 64
    assert releases.rollback(root) == first and releases.active(root) == first
    assert [h["reason"] for h in releases.history(root)] == ["deploy", "deploy", f"rollback from {second}"]
    assert [row["active"] for row in releases.listing(root)] == [True, False]


def test_mistakes_are_named(tmp_path):
    root = tmp_path / "releases"
    only = releases.register(bundle(tmp_path, "20260101T000000Z-aaaa", "a" * 64), root)
    with pytest.raises(MillraceError, match="no release 'nope'"):
        releases.promote(root, "nope", "by hand")
    releases.promote(root, only, "deploy")
    with pytest.raises(MillraceError, match="nothing to roll back to"):
        releases.rollback(root)
    (root / "ACTIVE").write_text("gone\n")
    with pytest.raises(MillraceError, match="names 'gone', which is not a release"):
        releases.active(root)


def test_a_damaged_release_is_never_made_active(tmp_path):
    root = tmp_path / "releases"
    good = releases.register(bundle(tmp_path, "20260101T000000Z-aaaa", "a" * 64), root)
    releases.promote(root, good, "deploy")
    truncated = releases.register(bundle(tmp_path, "20260102T000000Z-bbbb", "b" * 64), root)
    (root / truncated / "model.onnx").write_bytes(b"onnx ")
    (root / truncated / "edge/loader.py").write_text("import os; os.system('tampered')\n")
    with pytest.raises(MillraceError, match="damaged: model.onnx differs from the manifest.*; edge/ differs"):
        releases.promote(root, truncated, "by hand")
    missing = releases.register(bundle(tmp_path, "20260103T000000Z-cccc", "c" * 64), root)
    (root / missing / "model.onnx").unlink()
    with pytest.raises(MillraceError, match="damaged: model.onnx is missing"):
        releases.promote(root, missing, "by hand")
    assert releases.active(root) == good and len(releases.history(root)) == 1


def test_a_promotion_killed_between_history_and_pointer_is_completed_not_recorded_twice(tmp_path):
    root = tmp_path / "releases"
    first = releases.register(bundle(tmp_path, "20260101T000000Z-aaaa", "a" * 64), root)
    releases.promote(root, first, "deploy")
    second = releases.register(bundle(tmp_path, "20260102T000000Z-bbbb", "b" * 64), root)
    releases.promote(root, second, "deploy")
    (root / "ACTIVE").write_text(first + "\n")  # as if killed after the history line, before the pointer
    releases.promote(root, second, "deploy, again")
    assert releases.active(root) == second
    assert [(h["from"], h["to"]) for h in releases.history(root)] == [(None, first), (first, second)]
    releases.rollback(root)
    releases.promote(root, second, "by hand")  # a real second promotion is recorded
    assert [h["to"] for h in releases.history(root)] == [first, second, first, second]


def test_a_copy_a_killed_deploy_left_half_made_is_not_a_release_and_is_cleared(tmp_path):
    """Killed while copying a bundle in: the half-made copy (manifest there, a folder not yet) is never taken
    for the release, and the next registration of the same weights makes it whole and clears the leftover."""
    root = tmp_path / "releases"
    made = bundle(tmp_path, "20260101T000000Z-aaaa", "a" * 64)
    partial = root / ".20260101T000000Z-aaaa.x1y2z3.tmp"
    partial.mkdir(parents=True)
    (partial / "manifest.json").write_bytes((made / "manifest.json").read_bytes())  # edge/ not copied yet
    assert releases.versions(root) == []
    again = bundle(tmp_path, "20260102T000000Z-aaaa", "a" * 64)
    version = releases.register(again, root)
    assert version == "20260102T000000Z-aaaa" and releases.versions(root) == [version]
    assert not partial.exists() and sorted(p.name for p in root.iterdir()) == [version]
    releases.promote(root, version, "deploy")  # whole: it verifies
    assert releases.active(root) == version
