"""The invariant checker the fault tests share sees each way a workspace can be left broken."""

import shutil

import pytest

from millrace.release import registry
from tests.helpers.harness import RELEASES
from tests.reliability.invariants import assert_invariants

pytestmark = pytest.mark.slow


def test_a_finished_workspace_holds_and_each_breakage_is_named(workspace):
    assert_invariants(workspace)

    (workspace / "data/clean/clean.parquet").write_bytes(b"half a table")  # a partial write at the final path
    (workspace / "models/deploy/.model.onnx.x1y2.tmp").write_bytes(b"")  # a temporary left beside one
    shutil.rmtree(workspace / "models/train")  # gone, and in the cache: restorable
    root = workspace / RELEASES
    active = registry.active(root)
    shutil.copytree(root / active, root / "20991231T000000Z-later")  # a later release that passed ...
    with (root / registry.REGISTERED).open("a") as registered:
        registered.write('{"version": "20991231T000000Z-later", "at": "2099-12-31T00:00:00+00:00"}\n')
    with pytest.raises(AssertionError) as caught:
        assert_invariants(workspace)
    said = str(caught.value)
    assert "clean -> data/clean: not as recorded" in said
    assert "temporary left: models/deploy/.model.onnx.x1y2.tmp" in said
    assert "train ->" not in said
    assert f"active release is {active}, but the last that passed is 20991231T000000Z-later" in said  # ... not served

    # the failed stage's own outputs may be rewritten, as long as the recorded ones are restorable
    (workspace / "models/deploy/.model.onnx.x1y2.tmp").unlink()
    shutil.rmtree(root / "20991231T000000Z-later")
    with pytest.raises(AssertionError, match="clean -> data/clean"):
        assert_invariants(workspace, failed="acquire")
    assert_invariants(workspace, failed="clean")
