"""The release registry on disk: register once per weights, promote, roll back, and say what is wrong."""

import json

import pytest

from millrace.errors import MillraceError
from millrace.files import folder_sha256, sha256
from millrace.release import registry


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
    assert registry.active(root) is None and registry.versions(root) == []
    first = registry.register(bundle(tmp_path, "20260101T000000Z-aaaa", "a" * 64), root)
    assert registry.register(bundle(tmp_path, "20260102T000000Z-aaaa", "a" * 64), root) == first  # same weights
    second = registry.register(bundle(tmp_path, "20260103T000000Z-bbbb", "b" * 64), root)
    assert registry.versions(root) == [first, second]
    assert registry.promote(root, first, "deploy") is None
    assert registry.promote(root, second, "deploy") == first
    assert registry.active(root) == second and (root / second / "model.onnx").read_bytes() == b"onnx " + b"b" * 64
    assert registry.rollback(root) == first and registry.active(root) == first
    assert [h["reason"] for h in registry.history(root)] == ["deploy", "deploy", f"rollback from {second}"]
    assert [row["active"] for row in registry.listing(root)] == [True, False]


def test_mistakes_are_named(tmp_path):
    root = tmp_path / "releases"
    only = registry.register(bundle(tmp_path, "20260101T000000Z-aaaa", "a" * 64), root)
    with pytest.raises(MillraceError, match="no release 'nope'"):
        registry.promote(root, "nope", "by hand")
    registry.promote(root, only, "deploy")
    with pytest.raises(MillraceError, match="nothing to roll back to"):
        registry.rollback(root)
    (root / "ACTIVE").write_text("gone\n")
    with pytest.raises(MillraceError, match="names 'gone', which is not a release"):
        registry.active(root)


def test_a_damaged_release_is_never_made_active(tmp_path):
    root = tmp_path / "releases"
    good = registry.register(bundle(tmp_path, "20260101T000000Z-aaaa", "a" * 64), root)
    registry.promote(root, good, "deploy")
    truncated = registry.register(bundle(tmp_path, "20260102T000000Z-bbbb", "b" * 64), root)
    (root / truncated / "model.onnx").write_bytes(b"onnx ")
    (root / truncated / "edge/loader.py").write_text("import os; os.system('tampered')\n")
    with pytest.raises(MillraceError, match="damaged: model.onnx differs from the manifest.*; edge/ differs"):
        registry.promote(root, truncated, "by hand")
    missing = registry.register(bundle(tmp_path, "20260103T000000Z-cccc", "c" * 64), root)
    (root / missing / "model.onnx").unlink()
    with pytest.raises(MillraceError, match="damaged: model.onnx is missing"):
        registry.promote(root, missing, "by hand")
    assert registry.active(root) == good and len(registry.history(root)) == 1


def test_a_promotion_killed_between_history_and_pointer_is_completed_not_recorded_twice(tmp_path):
    root = tmp_path / "releases"
    first = registry.register(bundle(tmp_path, "20260101T000000Z-aaaa", "a" * 64), root)
    registry.promote(root, first, "deploy")
    second = registry.register(bundle(tmp_path, "20260102T000000Z-bbbb", "b" * 64), root)
    registry.promote(root, second, "deploy")
    (root / "ACTIVE").write_text(first + "\n")  # as if killed after the history line, before the pointer
    registry.promote(root, second, "deploy, again")
    assert registry.active(root) == second
    assert [(h["from"], h["to"]) for h in registry.history(root)] == [(None, first), (first, second)]
    registry.rollback(root)
    registry.promote(root, second, "by hand")  # a real second promotion is recorded
    assert [h["to"] for h in registry.history(root)] == [first, second, first, second]


def test_a_copy_a_killed_deploy_left_half_made_is_not_a_release_and_is_cleared(tmp_path):
    """Killed while copying a bundle in: the half-made copy (manifest there, a folder not yet) is never taken
    for the release, and the next registration of the same weights makes it whole and clears the leftover."""
    root = tmp_path / "releases"
    made = bundle(tmp_path, "20260101T000000Z-aaaa", "a" * 64)
    partial = root / ".20260101T000000Z-aaaa.x1y2z3.tmp"
    partial.mkdir(parents=True)
    (partial / "manifest.json").write_bytes((made / "manifest.json").read_bytes())  # edge/ not copied yet
    assert registry.versions(root) == []
    again = bundle(tmp_path, "20260102T000000Z-aaaa", "a" * 64)
    version = registry.register(again, root)
    assert version == "20260102T000000Z-aaaa" and registry.versions(root) == [version]
    assert not partial.exists() and sorted(p.name for p in root.iterdir()) == [version, "registered.jsonl"]
    registry.promote(root, version, "deploy")  # whole: it verifies
    assert registry.active(root) == version


def test_two_models_each_keep_their_own_active_version_history_and_rollback(tmp_path):
    root = tmp_path / "releases"
    penguins, wine = root / "penguins-species", root / "wine-class"
    p1 = registry.register(bundle(tmp_path, "p1", "a" * 64), penguins)
    p2 = registry.register(bundle(tmp_path, "p2", "b" * 64), penguins)
    w1 = registry.register(bundle(tmp_path, "w1", "c" * 64), wine)
    w2 = registry.register(bundle(tmp_path, "w2", "d" * 64), wine)
    for home, version in ((penguins, p1), (wine, w1), (penguins, p2), (wine, w2)):
        registry.promote(home, version, "deploy")
    assert registry.models(root) == ["penguins-species", "wine-class"]
    assert registry.owner(root, w1) == "wine-class" and registry.owner(root, "nope") is None
    assert registry.rollback(penguins) == p1
    assert (registry.active(penguins), registry.active(wine)) == (p1, w2)  # wine's active version did not move
    assert [h["to"] for h in registry.history(wine)] == [w1, w2]
    assert registry.rollback(wine) == w1 and registry.active(penguins) == p1


def test_releases_kept_before_named_models_move_into_their_models_home(tmp_path):
    root = tmp_path / "releases"
    old = registry.register(bundle(tmp_path, "old", "a" * 64), root)
    newer = registry.register(bundle(tmp_path, "newer", "b" * 64), root)
    registry.promote(root, old, "deploy")
    registry.promote(root, newer, "deploy")
    assert registry.adopt_flat_layout(root, lambda manifest: f"model-of-{manifest['version']}") == "model-of-newer"
    home = root / "model-of-newer"
    assert registry.models(root) == ["model-of-newer"] and registry.versions(home) == [old, newer]
    assert registry.active(home) == newer and registry.rollback(home) == old
    assert registry.adopt_flat_layout(root, lambda manifest: "again") is None  # nothing left to move
