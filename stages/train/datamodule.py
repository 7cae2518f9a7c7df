"""The LightningDataModule: reads the labelled splits and encodes them with the feature plan.

The encoded splits are small dense tensors, so a batch is one indexing operation on them (a
BatchSampler handing whole index lists to the dataset) rather than a per-row fetch and collate,
which on a GPU left the model waiting for the loader half of the time.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pandas as pd
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset

from stages.features import FeaturePlan, encode


class TabularDataModule(L.LightningDataModule):
    def __init__(self, label_dir: Path, plan: FeaturePlan, batch_size: int, seed: int) -> None:
        super().__init__()
        self.label_dir, self.plan, self.batch_size, self.seed = Path(label_dir), plan, batch_size, seed

    def _tensors(self, split: str) -> TensorDataset:
        frame = pd.read_parquet(self.label_dir / f"{split}.parquet")
        x = torch.from_numpy(encode(frame, self.plan))
        y = torch.from_numpy(frame["label"].to_numpy(dtype="int64", copy=True))
        return TensorDataset(x, y)

    def setup(self, stage: str | None = None) -> None:
        self.train_set, self.val_set = self._tensors("train"), self._tensors("val")

    def _batches(self, dataset: TensorDataset, sampler) -> DataLoader:
        # batch_size=None: each index list from the BatchSampler is already a whole batch.
        return DataLoader(dataset, sampler=BatchSampler(sampler, self.batch_size, drop_last=False), batch_size=None)

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return self._batches(self.train_set, RandomSampler(self.train_set, generator=generator))

    def val_dataloader(self) -> DataLoader:
        return self._batches(self.val_set, SequentialSampler(self.val_set))
