"""One log line per epoch instead of a progress bar: readable inside `dvc repro` and Prefect."""

from __future__ import annotations

import logging

import lightning as L

log = logging.getLogger("stages.train")


class EpochLog(L.Callback):
    def on_validation_epoch_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        if trainer.sanity_checking:
            return
        shown = " ".join(f"{k}={float(v):.4f}" for k, v in sorted(trainer.callback_metrics.items()))
        log.info("epoch %d %s", trainer.current_epoch, shown)
