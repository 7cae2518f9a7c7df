"""dvclive's Lightning logger, less the `inspect.stack()` it calls on every `log_metrics`, with figures rounded.

`dvclive.lightning.DVCLiveLogger` writes its files (a "sync") only when Lightning's epoch-end or
step hooks log, and finds out by calling `inspect.stack()`, which looks up the source file and
module of every frame on the stack: ~50 ms a call where a frame has no file. This logger asks the same
question of the frames' function names only. The curves and metrics it writes are tracked by git, so
their figures are rounded to the precision git keeps (millrace/precision.py).
"""

from __future__ import annotations

import sys
from collections.abc import Mapping

from dvclive.fabric import DVCLiveLogger as FabricDVCLiveLogger
from dvclive.lightning import DVCLiveLogger
from lightning.pytorch.utilities import rank_zero_only

from millrace.precision import rounded

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
        figures = {name: rounded(float(value)) for name, value in metrics.items()}
        FabricDVCLiveLogger.log_metrics(self, figures, step, bool(sync) or called_from_sync_point())
