"""Training callbacks that act on the model: gradual unfreezing of a pretrained encoder or language model."""

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
