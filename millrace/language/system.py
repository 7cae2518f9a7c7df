"""A causal language model as a Lightning system: next-token cross-entropy on the labelled tokens only, AdamW
over the trainable parameters with a linear warmup and cosine decay, and the train and validation losses as
means over every learned token of the epoch (a short batch weighs what its tokens weigh, not a full batch's).

A batch with no token to learn is an error: averaged over zero tokens its loss would read 0 or NaN and look
like perfect fit (huggingface/trl#6668). The examples reaching a batch were checked when tokenised
(millrace/language/chat.py), so this one means packing or a data loader dropped every answer.
"""

from __future__ import annotations

import math

import lightning as L
import torch
from torchmetrics import MeanMetric

from millrace.errors import MillraceError
from millrace.language.batches import learned_tokens


class CausalLMSystem(L.LightningModule):
    def __init__(
        self,
        model,
        lr: float,
        weight_decay: float = 0.0,
        warmup_steps: int = 0,
        total_steps: int = 1,
        unfreeze: list | None = None,
    ):
        super().__init__()
        self.save_hyperparameters(ignore=["model", "unfreeze"])  # the logger records them (reports/train/params.yaml)
        self.model = model
        self.unfreeze = unfreeze or []  # what gradual unfreezing releases, in order
        self.lr, self.weight_decay = lr, weight_decay
        self.warmup_steps, self.total_steps = warmup_steps, max(total_steps, 1)
        self.train_loss, self.val_loss = MeanMetric(nan_strategy="disable"), MeanMetric(nan_strategy="disable")

    def _loss(self, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        tokens = learned_tokens(batch)
        if int(tokens) == 0:
            raise MillraceError(
                "a batch has no token to learn (every label is masked): its loss would read 0; check the "
                "examples' answers and data.text.max_length"
            )
        return self.model(**batch, use_cache=False).loss, tokens  # a cache would disable packing's mask

    def on_train_start(self) -> None:
        self.model.train()  # a loaded base is in eval mode, and Lightning keeps the modes it finds (dropout off)

    def training_step(self, batch, batch_idx):
        loss, tokens = self._loss(batch)
        self.train_loss.update(loss.detach(), weight=tokens)
        return loss

    def validation_step(self, batch, batch_idx):
        loss, tokens = self._loss(batch)
        self.val_loss.update(loss, weight=tokens)

    def on_train_epoch_end(self) -> None:
        self.log("train/loss", self.train_loss.compute())
        self.train_loss.reset()

    def on_validation_epoch_end(self) -> None:
        self.log("val/loss", self.val_loss.compute())
        self.val_loss.reset()

    def layer_groups(self) -> list:
        return self.unfreeze

    def configure_optimizers(self):
        # Frozen weights stay out of the optimiser, except those gradual unfreezing will release (AdamW skips a
        # weight until it has a gradient).
        releasable = {id(p) for group in self.unfreeze for p in group.parameters()}
        trainable = [p for p in self.model.parameters() if p.requires_grad or id(p) in releasable]
        optimizer = torch.optim.AdamW(trainable, lr=self.lr, weight_decay=self.weight_decay)

        def factor(step: int) -> float:
            if step < self.warmup_steps:
                return (step + 1) / self.warmup_steps
            progress = (step - self.warmup_steps) / max(self.total_steps - self.warmup_steps, 1)
            return 0.5 * (1 + math.cos(math.pi * min(progress, 1.0)))

        schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": schedule, "interval": "step"}}
