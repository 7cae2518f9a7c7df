"""The datamodule's loader serves whole batches with one gather."""

import json

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def label_dir(tmp_path):
    rng = np.random.default_rng(0)
    directory = tmp_path / "label"
    directory.mkdir()
    for split, n in [("train", 60), ("val", 20)]:
        label = rng.integers(0, 2, n)
        frame = pd.DataFrame({"x": rng.normal(label * 3.0, 1.0), "c": np.where(label, "p", "q"), "y": label})
        frame.assign(label=label).to_parquet(directory / f"{split}.parquet")
    (directory / "label_map.json").write_text(json.dumps({"classes": ["n", "y"]}))
    return directory


def test_loader_serves_whole_batches_with_one_gather(label_dir, monkeypatch):
    from millrace.inputs.tabular import fit
    from millrace.training.datamodule import BatchedTensors, SplitsDataModule

    calls = []
    original = BatchedTensors.__getitems__
    monkeypatch.setattr(BatchedTensors, "__getitems__", lambda self, idx: calls.append(len(idx)) or original(self, idx))
    plan = fit(pd.read_parquet(label_dir / "train.parquet"), ["x", "c"])
    module = SplitsDataModule(label_dir, plan, batch_size=16, seed=0)
    module.setup("fit")
    batches = list(module.train_dataloader())
    assert [len(y) for _, y in batches] == [16, 16, 16, 12]
    assert calls == [16, 16, 16, 12]
    assert batches[0][0].shape == (16, plan.width)
