"""The entry point every command shares: a transient error exits with the status the flows retry."""

from __future__ import annotations

import pytest

from millrace.entry import run_stage
from millrace.errors import TRANSIENT_EXIT
from millrace.sources.download import DownloadError


def test_a_transient_error_exits_with_the_status_the_flows_retry():
    def fetch() -> None:
        raise DownloadError("data.source: connection refused", transient=True)

    with pytest.raises(SystemExit) as exited:
        run_stage(fetch)
    assert exited.value.code == TRANSIENT_EXIT
    with pytest.raises(SystemExit) as exited:
        run_stage(lambda: (_ for _ in ()).throw(DownloadError("sha256 mismatch")))
    assert exited.value.code == 1
