"""The LightningDataModule: reads the labelled splits and encodes them with the feature plan.

The encoded splits are small dense tensors, so a batch is one indexing operation on them
(`__getitems__`, which the DataLoader calls with a batch sampler's whole index list) rather than a
per-row fetch and collate, which on a GPU left the model waiting for the loader half of the time.
The batch sampler is passed as `batch_sampler`, the form Lightning knows how to distribute. On a GPU, splits that
fit comfortably are moved there once, so a batch is a gather on the device and no copy per step.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pandas as pd
import torch
from torch.utils.data import BatchSampler, DataLoader, RandomSampler, SequentialSampler, TensorDataset

from stages.features import FeaturePlan, encode

ON_DEVICE_LIMIT = 0.25  # keep the encoded splits on the GPU while they need under this share of its free memory


class BatchedTensors(TensorDataset):
    """A TensorDataset that serves a whole batch with one gather."""

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, ...]:
        index = torch.as_tensor(indices, device=self.tensors[0].device)
        return tuple(t[index] for t in self.tensors)


def as_is(batch):
    """collate_fn for BatchedTensors: the batch is already assembled."""
    return batch


def to_device_if_small(dataset: BatchedTensors, device: torch.device) -> BatchedTensors:
    if device.type != "cuda":
        return dataset
    size = sum(t.element_size() * t.nelement() for t in dataset.tensors)
    if size > ON_DEVICE_LIMIT * torch.cuda.mem_get_info(device)[0]:
        return dataset
    return BatchedTensors(*(t.to(device) for t in dataset.tensors))


class TabularDataModule(L.LightningDataModule):
    def __init__(self, label_dir: Path, plan: FeaturePlan, batch_size: int, seed: int) -> None:
        super().__init__()
        self.label_dir, self.plan, self.batch_size, self.seed = Path(label_dir), plan, batch_size, seed

    def _tensors(self, split: str) -> BatchedTensors:
        frame = pd.read_parquet(self.label_dir / f"{split}.parquet")
        x = torch.from_numpy(encode(frame, self.plan))
        y = torch.from_numpy(frame["label"].to_numpy(dtype="int64", copy=True))
        return BatchedTensors(x, y)

    def setup(self, stage: str | None = None) -> None:
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        self.train_set = to_device_if_small(self._tensors("train"), device)
        self.val_set = to_device_if_small(self._tensors("val"), device)

    def _batches(self, dataset: BatchedTensors, sampler) -> DataLoader:
        batches = BatchSampler(sampler, self.batch_size, drop_last=False)
        return DataLoader(dataset, batch_sampler=batches, collate_fn=as_is)

    def train_dataloader(self) -> DataLoader:
        generator = torch.Generator().manual_seed(self.seed)
        return self._batches(self.train_set, RandomSampler(self.train_set, generator=generator))

    def val_dataloader(self) -> DataLoader:
        return self._batches(self.val_set, SequentialSampler(self.val_set))
