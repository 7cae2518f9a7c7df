"""The Lightning "system" around a backbone: loss, optimiser and per-epoch metrics."""

from __future__ import annotations

import lightning as L
import torch
from torch import nn
from torchmetrics.classification import MulticlassAccuracy


class Classifier(L.LightningModule):
    def __init__(self, backbone: nn.Module, num_classes: int, lr: float, weight_decay: float) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["backbone"])
        self.backbone = backbone
        self.loss = nn.CrossEntropyLoss()
        self.train_acc = MulticlassAccuracy(num_classes, average="micro")
        self.val_acc = MulticlassAccuracy(num_classes, average="micro")

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.backbone(x)

    def _step(self, batch, stage: str) -> torch.Tensor:
        x, y = batch
        logits = self(x)
        loss = self.loss(logits, y)
        accuracy = self.train_acc if stage == "train" else self.val_acc
        accuracy(logits, y)
        self.log(f"{stage}/loss", loss, on_step=False, on_epoch=True, batch_size=len(y))
        self.log(f"{stage}/acc", accuracy, on_step=False, on_epoch=True, batch_size=len(y))
        return loss

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def on_train_epoch_end(self) -> None:
        # Checked once an epoch, not every step: a per-step check makes the GPU wait for the CPU.
        loss = self.trainer.callback_metrics.get("train/loss")
        if loss is not None and not torch.isfinite(loss):
            raise FloatingPointError(
                f"train/loss is {float(loss)} after epoch {self.current_epoch}; lower train.lr or check the data"
            )

    def configure_optimizers(self):
        return torch.optim.AdamW(self.parameters(), lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
