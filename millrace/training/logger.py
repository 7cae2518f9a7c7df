"""dvclive's Lightning logger, less the `inspect.stack()` it calls on every `log_metrics`.

`dvclive.lightning.DVCLiveLogger` writes its files (a "sync") only when Lightning's epoch-end or
step hooks log, and finds out by calling `inspect.stack()`, which looks up the source file and
module of every frame on the stack. A frame without a file (`<frozen runpy>`, the warm worker's
`-c` boot) makes each lookup walk all of `sys.modules`: in a stage forked from the warm worker
(~10,000 modules) that was ~50 ms a call and 1.3 s of a 16-epoch training on penguins. This logger
asks the same question of the frames' function names only.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from dvclive.fabric import DVCLiveLogger as FabricDVCLiveLogger
from dvclive.lightning import DVCLiveLogger
from lightning.pytorch.utilities import rank_zero_only

# The Lightning functions whose call to log_metrics dvclive syncs on (dvclive.lightning._should_sync).
SYNC_POINTS = frozenset({"update_train_step_metrics", "update_train_epoch_metrics", "log_eval_end_metrics"})


def called_from_sync_point() -> bool:
    """Whether one of SYNC_POINTS is on the caller's stack."""
    frame = sys._getframe(1)  # noqa: SLF001
    while frame is not None:
        if frame.f_code.co_name in SYNC_POINTS:
            return True
        frame = frame.f_back
    return False


class Logger(DVCLiveLogger):
    """DVCLiveLogger with the same sync points, found without reading the stack's sources."""

    @rank_zero_only
    def log_metrics(self, metrics: Mapping[str, float], step: int | None = None, sync: bool | None = False) -> None:
        FabricDVCLiveLogger.log_metrics(self, metrics, step, bool(sync) or called_from_sync_point())
