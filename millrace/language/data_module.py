"""The tokenised splits as Lightning batches: padded examples, or packed rows when data.text.packing is on.

The training order is drawn from (seed, epoch) alone (millrace.training.datamodule.EpochShuffle), so a resumed
run sees the batches an uninterrupted one would, and each DDP rank takes its share.
"""

from __future__ import annotations

from functools import partial
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import BatchSampler, DataLoader, SequentialSampler

from millrace.language import tokens
from millrace.language.batches import collate
from millrace.language.packing import collate_packed
from millrace.training.datamodule import EpochShuffle


class TokensDataModule(L.LightningDataModule):
    def __init__(self, label_dir: Path, packed: bool, batch_size: int, seed: int, pad_id: int) -> None:
        super().__init__()
        self.label_dir, self.packed, self.batch_size, self.seed = Path(label_dir), packed, batch_size, seed
        self.collate = partial(collate_packed if packed else collate, pad_id=pad_id)

    def setup(self, stage: str | None = None) -> None:
        self.train_set = tokens.read(self.label_dir, "train", packed=self.packed)
        self.val_set = tokens.read(self.label_dir, "val", packed=self.packed)

    def _batches(self, rows: list, sampler) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(
            rows, batch_sampler=BatchSampler(sampler, self.batch_size, drop_last=False), collate_fn=self.collate,
            generator=generator,
        )  # fmt: skip

    def train_dataloader(self) -> DataLoader:
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer is not None else (0, 1)
        return self._batches(self.train_set, EpochShuffle(len(self.train_set), self.seed, rank, world))

    def val_dataloader(self) -> DataLoader:
        return self._batches(self.val_set, SequentialSampler(self.val_set))
