"""Training callbacks that act on the backbone: gradual unfreezing of a pretrained encoder."""

from __future__ import annotations

import lightning as L


class GradualUnfreeze(L.Callback):
    """Release one more encoder part (top layer first) every `every` epochs; the head trains from the start."""

    def __init__(self, every: int) -> None:
        self.every = every

    def on_train_epoch_start(self, trainer: L.Trainer, module: L.LightningModule) -> None:
        groups = module.backbone.layer_groups()
        released = min(trainer.current_epoch // self.every, len(groups))
        for group in groups[:released]:
            group.requires_grad_(True)
