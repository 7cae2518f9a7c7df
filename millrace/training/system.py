"""The Lightning "system" around a backbone: loss, optimiser, scheduler and per-epoch metrics.

Classification trains on cross-entropy and logs accuracy; regression trains on the mean squared
error of the standardised target and logs the mean absolute error in the target's own units.
With a teacher's logits in the batch (`model.distill`), the loss mixes the teacher's softened
distribution with the true labels (Hinton et al., 2015).

Metrics accumulate on the device batch by batch and are logged once an epoch, with one line per
epoch in the stage's log: `self.log` on every step cost ~1.7 ms a call on an H100 (Lightning moves
its result collection to the device each time), more than the small models' step itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import lightning as L
import torch
from torch import nn
from torch.nn import functional as F
from torchmetrics import MeanAbsoluteError, MeanMetric, Metric
from torchmetrics.classification import MulticlassAccuracy

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Objective:
    task: str = "classification"
    outputs: int = 2
    inputs: int = 1  # how many leading tensors of a batch are model inputs
    target_std: float = 1.0  # regression: the training target's std, to report MAE in its units
    distill_temperature: float | None = None  # set when the batch ends with a teacher's logits
    distill_alpha: float = 0.0


class System(L.LightningModule):
    def __init__(
        self,
        backbone: nn.Module,
        objective: Objective,
        lr: float,
        weight_decay: float,
        scheduler: str = "none",
        seed: int = 0,
        pretrained_lr_scale: float = 1.0,
        augment: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.save_hyperparameters(ignore=["backbone", "augment", "objective"])
        self.backbone, self.objective, self.augment = backbone, objective, augment
        self.metric_name = "mae" if objective.task == "regression" else "acc"
        # nan_strategy="disable": a NaN loss must reach the epoch's mean (and stop training), and
        # the NaN check would make the GPU wait for the CPU every step.
        self.train_loss, self.val_loss = MeanMetric(nan_strategy="disable"), MeanMetric(nan_strategy="disable")
        self.train_metric, self.val_metric = self._metric(), self._metric()
        self.last_val: dict[str, torch.Tensor] = {}

    def _metric(self) -> Metric:
        if self.objective.task == "regression":
            return MeanAbsoluteError()
        # validate_args=False: the check calls torch.unique on every batch, another host sync; the
        # labels gate and the label map already guarantee the range.
        return MulticlassAccuracy(num_classes=self.objective.outputs, average="micro", validate_args=False)

    def _trackers(self, stage: str) -> tuple[MeanMetric, Metric]:
        return (self.train_loss, self.train_metric) if stage == "train" else (self.val_loss, self.val_metric)

    def forward(self, *inputs: torch.Tensor) -> torch.Tensor:
        return self.backbone(*inputs)

    def layer_groups(self) -> list[nn.Module]:
        return self.backbone.layer_groups()

    def _loss(self, out: torch.Tensor, y: torch.Tensor, teacher: torch.Tensor | None) -> torch.Tensor:
        objective = self.objective
        if objective.task == "regression":
            return F.mse_loss(out[:, 0], y)
        loss = F.cross_entropy(out, y)
        if teacher is not None and objective.distill_temperature:
            t = objective.distill_temperature
            soft = F.kl_div(
                F.log_softmax(out / t, 1), F.log_softmax(teacher / t, 1), reduction="batchmean", log_target=True
            )
            loss = objective.distill_alpha * soft * t * t + (1 - objective.distill_alpha) * loss
        return loss

    def _step(self, batch, stage: str) -> torch.Tensor:
        n = self.objective.inputs
        inputs, y = list(batch[:n]), batch[n]
        teacher = batch[n + 1] if len(batch) > n + 1 else None
        if stage == "train" and self.augment is not None:
            inputs[0] = self.augment(inputs[0])
        out = self(*inputs)
        loss = self._loss(out, y, teacher)
        epoch_loss, metric = self._trackers(stage)
        epoch_loss.update(loss.detach().expand(len(y)))  # one value per sample: the epoch's mean weighs batches by size
        if self.objective.task == "regression":
            metric.update(out[:, 0].detach() * self.objective.target_std, y * self.objective.target_std)
        else:
            metric.update(out.detach(), y)
        return loss

    def _log_epoch(self, stage: str) -> dict[str, torch.Tensor]:
        """Log the epoch's loss and metric (synchronised across processes by torchmetrics) and start afresh."""
        epoch_loss, metric = self._trackers(stage)
        if not epoch_loss.update_called:
            return {}
        values = {f"{stage}/loss": epoch_loss.compute(), f"{stage}/{self.metric_name}": metric.compute()}
        epoch_loss.reset()
        metric.reset()
        self.log_dict(values)
        return values

    def training_step(self, batch, batch_idx: int) -> torch.Tensor:
        return self._step(batch, "train")

    def validation_step(self, batch, batch_idx: int) -> None:
        self._step(batch, "val")

    def on_train_epoch_start(self) -> None:
        # Dropout and augmentation draw from the global RNG: seeding it per epoch makes a run that
        # resumed from a checkpoint draw what an uninterrupted run would have.
        torch.manual_seed(self.hparams.seed * 100_003 + self.current_epoch)

    def on_validation_epoch_end(self) -> None:
        values = self._log_epoch("val")
        if not self.trainer.sanity_checking:
            self.last_val = values

    def on_train_epoch_end(self) -> None:
        # Validation ran inside this epoch already: the line shows this epoch's figures for both.
        values = self._log_epoch("train")
        loss = values.get("train/loss")
        # Checked once an epoch, not every step: a per-step check makes the GPU wait for the CPU.
        if loss is not None and not torch.isfinite(loss):
            raise FloatingPointError(
                f"train/loss is {float(loss)} after epoch {self.current_epoch}; lower train.lr or check the data"
            )
        shown = " ".join(f"{k}={float(v):.4f}" for k, v in sorted({**values, **self.last_val}.items()))
        log.info("epoch %d %s", self.current_epoch, shown)

    def configure_optimizers(self) -> Any:
        # Frozen weights stay out of the optimiser, except those gradual unfreezing will release.
        # A pretrained encoder's own weights move at lr × pretrained_lr_scale; the new head and
        # LoRA adapters, which start from scratch, at the full lr.
        releasable = getattr(self.backbone, "strategy", "") == "gradual_unfreeze"
        pretrained = getattr(self.backbone, "pretrained", False)
        fresh, tuned = [], []
        for name, parameter in self.backbone.named_parameters():
            if parameter.requires_grad or releasable:
                slow = pretrained and not name.startswith("head.") and "lora_" not in name
                (tuned if slow else fresh).append(parameter)
        groups = [{"params": fresh}]
        if tuned:
            groups.append({"params": tuned, "lr": self.hparams.lr * self.hparams.pretrained_lr_scale})
        optimizer = torch.optim.AdamW(groups, lr=self.hparams.lr, weight_decay=self.hparams.weight_decay)
        if self.hparams.scheduler == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=max(self.trainer.max_epochs, 1))
            return {"optimizer": optimizer, "lr_scheduler": scheduler}
        if self.hparams.scheduler == "plateau":
            scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer, factor=0.5, patience=2)
            return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "monitor": "val/loss"}}
        return optimizer
