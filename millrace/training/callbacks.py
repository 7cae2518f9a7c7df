"""Training callbacks: gradual unfreezing of a pretrained encoder or language model, and a cap on the epochs."""

from __future__ import annotations

import lightning as L


class GradualUnfreeze(L.Callback):
    """Release one more part (top layer first) every `every` epochs; the head trains from the start. The module
    says what its parts are (`layer_groups()`)."""

    def __init__(self, every: int) -> None:
        self.every = every

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        groups = module.layer_groups()
        released = min(trainer.current_epoch // self.every, len(groups))
        for group in groups[:released]:
            group.requires_grad_(True)


class StopAfterEpochs(L.Callback):
    """Stop once `epochs` epochs have run, leaving `train.max_epochs` (and so the cosine schedule's length) as it
    was: a portfolio's winner trains no longer than its judged fits did, on the schedule they had."""

    def __init__(self, epochs: int) -> None:
        self.epochs = epochs

    def on_train_epoch_end(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        if trainer.current_epoch + 1 >= self.epochs:
            trainer.should_stop = True
