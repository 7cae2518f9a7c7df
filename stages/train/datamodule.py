"""The LightningDataModule: reads the labelled splits and encodes them with the feature plan."""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pandas as pd
import torch
from torch.utils.data import DataLoader, TensorDataset

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

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(self.train_set, batch_size=self.batch_size, shuffle=True, generator=generator)

    def val_dataloader(self) -> DataLoader:
        return DataLoader(self.val_set, batch_size=len(self.val_set))
