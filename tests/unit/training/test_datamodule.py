"""The datamodule's loader serves whole batches with one gather."""

import pandas as pd


def test_loader_serves_whole_batches_with_one_gather(label_dir, monkeypatch):
    from millrace.training.datamodule import BatchedTensors, SplitsDataModule
    from tests.helpers.params import plan_for

    calls = []
    original = BatchedTensors.__getitems__
    monkeypatch.setattr(BatchedTensors, "__getitems__", lambda self, idx: calls.append(len(idx)) or original(self, idx))
    plan = plan_for(pd.read_parquet(label_dir / "train.parquet"), ["x", "c"], target="y")
    module = SplitsDataModule(label_dir, plan, batch_size=16, seed=0)
    module.setup("fit")
    batches = list(module.train_dataloader())
    assert [len(y) for _, y in batches] == [16, 16, 16, 12]
    assert calls == [16, 16, 16, 12]
    assert batches[0][0].shape == (16, plan.width)
