"""Atomic writes: a crash leaves the previous output, and the next write sweeps the leftovers."""

import pytest

from millrace.files import atomic_dir, atomic_path, write_json


def test_atomic_dir_keeps_the_previous_output_when_the_writer_fails(tmp_path):
    target = tmp_path / "out"
    with atomic_dir(target) as out:
        (out / "a.txt").write_text("first")
    with pytest.raises(RuntimeError), atomic_dir(target) as out:
        (out / "a.txt").write_text("half")
        raise RuntimeError("crash")
    assert (target / "a.txt").read_text() == "first"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["out"]  # no temp folder left behind


def test_atomic_path_leaves_nothing_on_failure(tmp_path):
    target = tmp_path / "x.json"
    write_json(target, {"a": 1})
    with pytest.raises(ValueError), atomic_path(target) as tmp:
        tmp.write_text("{trunc")
        raise ValueError
    assert target.read_text().strip().startswith("{")
    assert [p.name for p in tmp_path.iterdir()] == ["x.json"]


def test_leftovers_of_a_killed_writer_are_swept_before_the_next_write(tmp_path):
    from millrace.files import atomic_dir, write_json

    (tmp_path / ".model.abc123.tmp").mkdir()
    (tmp_path / ".model.abc123.tmp" / "half.bin").write_bytes(b"x")
    (tmp_path / ".metrics.json.def456.tmp").write_text("{")
    (tmp_path / ".other.json.ghi789.tmp").write_text("kept: another path's temporary")
    with atomic_dir(tmp_path / "model") as out:
        (out / "weights").write_bytes(b"w")
    write_json(tmp_path / "metrics.json", {"a": 1})
    assert sorted(p.name for p in tmp_path.iterdir()) == [".other.json.ghi789.tmp", "metrics.json", "model"]
