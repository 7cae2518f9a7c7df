"""Only a stage that exits transiently is retried; the failure says the stage's own message."""

from __future__ import annotations

from prefect.states import Failed

from flows.stage_task import StageFailed, TransientStageFailure, _failure, retry_if_transient
from millrace.errors import TRANSIENT_EXIT

DVC_SAID = [
    "Running stage 'acquire':",
    "> python -m stages.acquire",
    "WARNING millrace.sources.download: attempt 1/1 failed",
    "error: data.source (https://example.invalid/x.csv): HTTP 503 Service Unavailable",
    "ERROR: failed to reproduce 'acquire': failed to run: python -m stages.acquire, exited with {status}",
]


def test_only_a_stage_that_exits_transiently_is_retried():
    transient = _failure("acquire", 255, [line.format(status=TRANSIENT_EXIT) for line in DVC_SAID])
    permanent = _failure("acquire", 255, [line.format(status=1) for line in DVC_SAID])
    assert isinstance(transient, TransientStageFailure) and type(permanent) is StageFailed
    said = "data.source (https://example.invalid/x.csv): HTTP 503 Service Unavailable"
    assert str(permanent) == f"stage 'acquire' failed (dvc exit 255): {said}"
    assert retry_if_transient(None, None, Failed(data=transient)) is True
    assert retry_if_transient(None, None, Failed(data=permanent)) is False
