"""The LightningDataModule: reads the labelled splits and encodes them with the input plan.

A batch is the plan's inputs in order, then the target (class ids, or the standardised value for
regression), then, when distilling, the teacher's logits.

The encoded splits are small dense tensors, so a batch is one indexing operation on them
(`__getitems__`, which the DataLoader calls with a batch sampler's whole index list) rather than a
per-row fetch and collate, which on a GPU left the model waiting for the loader half of the time.
Under DDP each rank trains on its own share of every epoch's shuffle (EpochShuffle; the Trainer is
told not to swap in a DistributedSampler, which would drop the batch sampler and train one row per
step) and validates on the whole split, so every rank sees the same validation loss. On a GPU, splits
that fit comfortably are moved there once, so a batch is a gather on the device and no copy per step.
"""

from __future__ import annotations

from pathlib import Path

import lightning as L
import pandas as pd
import torch
from torch.utils.data import BatchSampler, DataLoader, Sampler, SequentialSampler, TensorDataset

ON_DEVICE_LIMIT = 0.25  # keep the encoded splits on the GPU while they need under this share of its free memory


class BatchedTensors(TensorDataset):
    """A TensorDataset that serves a whole batch with one gather."""

    def __getitems__(self, indices: list[int]) -> tuple[torch.Tensor, ...]:
        index, device = torch.as_tensor(indices), self.tensors[0].device
        if device.type == "cuda":
            # From pinned memory the copy is asynchronous; from ordinary memory it would wait for
            # the GPU to finish every queued step first, so the CPU could never work ahead.
            index = index.pin_memory().to(device, non_blocking=True)
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


class EpochShuffle(Sampler[int]):
    """A shuffle drawn from (seed, epoch) alone, so a resumed run sees the batches an uninterrupted one would.

    Under DDP every rank draws the same permutation and keeps every `world`-th index from its `rank`,
    the permutation first topped up from its start to a multiple of `world` (as DistributedSampler
    does), so each rank runs the same number of batches and no rank waits on another forever.
    Lightning calls `set_epoch` at the start of every epoch, as it does for a DistributedSampler.
    """

    def __init__(self, size: int, seed: int, rank: int = 0, world: int = 1) -> None:
        self.size, self.seed, self.epoch, self.rank, self.world = size, seed, 0, rank, world

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __len__(self) -> int:
        return -(-self.size // self.world)

    def __iter__(self):
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(self.size, generator=generator).tolist()
        order += order[: len(self) * self.world - self.size]
        return iter(order[self.rank :: self.world])


class SplitsDataModule(L.LightningDataModule):
    def __init__(
        self,
        label_dir: Path,
        plan,
        batch_size: int,
        seed: int,
        target_scale: dict[str, float] | None = None,
        teacher_logits: torch.Tensor | None = None,
    ) -> None:
        super().__init__()
        self.label_dir, self.plan, self.batch_size, self.seed = Path(label_dir), plan, batch_size, seed
        self.target_scale, self.teacher_logits = target_scale, teacher_logits

    def _tensors(self, split: str) -> BatchedTensors:
        frame = pd.read_parquet(self.label_dir / f"{split}.parquet")
        encoded = self.plan.encode(frame)
        inputs = [torch.from_numpy(encoded[name]) for name in self.plan.input_names]
        if self.target_scale is None:
            y = torch.from_numpy(frame["label"].to_numpy(dtype="int64", copy=True))
        else:
            values = frame["label"].to_numpy(dtype="float32", copy=True)
            y = torch.from_numpy((values - self.target_scale["mean"]) / self.target_scale["std"])
        extra = [self.teacher_logits] if split == "train" and self.teacher_logits is not None else []
        return BatchedTensors(*inputs, y, *extra)

    def setup(self, stage: str | None = None) -> None:
        device = self.trainer.strategy.root_device if self.trainer is not None else torch.device("cpu")
        self.train_set = to_device_if_small(self._tensors("train"), device)
        self.val_set = to_device_if_small(self._tensors("val"), device)

    def _batches(self, dataset: BatchedTensors, sampler) -> DataLoader:
        batches = BatchSampler(sampler, self.batch_size, drop_last=False)
        # Its own generator: a DataLoader iterator otherwise draws its base seed from the global
        # RNG, and when it does so differs between a fresh and a resumed run, shifting dropout.
        generator = torch.Generator().manual_seed(self.seed)
        return DataLoader(dataset, batch_sampler=batches, collate_fn=as_is, generator=generator)

    def train_dataloader(self) -> DataLoader:
        rank, world = (self.trainer.global_rank, self.trainer.world_size) if self.trainer is not None else (0, 1)
        return self._batches(self.train_set, EpochShuffle(len(self.train_set), self.seed, rank, world))

    def val_dataloader(self) -> DataLoader:
        return self._batches(self.val_set, SequentialSampler(self.val_set))
