"""Smoke test of the real Lightning training on a tiny split, and its determinism on CPU."""

import json

import numpy as np
import pandas as pd
import pytest
import torch
from safetensors.numpy import load_file

from stages import trained
from stages.params import parse_params
from stages.train import run


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


def _train(label_dir, out_root):
    params = parse_params({"data": {"target": "y", "features": ["x", "c"]}, "train": {"max_epochs": 3}})
    out, live = out_root / "model", out_root / "live"
    out.mkdir(parents=True)
    meta = run(label_dir, {"family": "tabular_mlp"}, params, out, live)
    return out, live, meta


def test_training_saves_a_loadable_model_and_curves(label_dir, tmp_path):
    out, live, meta = _train(label_dir, tmp_path / "a")
    assert meta["epochs_run"] == 3 and meta["classes"] == ["n", "y"]
    model = trained.load(out)
    assert model.plan.columns == ["x", "c"]
    assert (live / "plots" / "metrics" / "val" / "loss.tsv").exists()
    assert json.loads((live / "metrics.json").read_text())["train"]["loss"] > 0


def test_two_runs_give_identical_weights(label_dir, tmp_path):
    first, _, _ = _train(label_dir, tmp_path / "a")
    second, _, _ = _train(label_dir, tmp_path / "b")
    a, b = load_file(str(first / "model.safetensors")), load_file(str(second / "model.safetensors"))
    assert a.keys() == b.keys()
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])


class NaNAfterFirstStep(torch.nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = torch.nn.Linear(2, 2)
        self.calls = 0

    def forward(self, x):
        self.calls += 1
        out = self.linear(x)
        return out * float("nan") if self.calls > 2 else out


def test_a_non_finite_loss_stops_training_with_a_clear_message(tmp_path):
    from lightning import LightningDataModule
    from torch.utils.data import DataLoader, TensorDataset

    from stages.train import trainer
    from stages.train.module import Classifier

    data = TensorDataset(torch.randn(32, 2), torch.randint(0, 2, (32,)))

    class Tiny(LightningDataModule):
        def train_dataloader(self):
            return DataLoader(data, batch_size=8)

        def val_dataloader(self):
            return DataLoader(data, batch_size=32)

    params = parse_params({"train": {"max_epochs": 3}})
    fitter, checkpoint = trainer(params.train, tmp_path, logger=False)
    with pytest.raises(FloatingPointError, match="train/loss is nan"):
        fitter.fit(Classifier(NaNAfterFirstStep(), 2, 0.01, 0.0), datamodule=Tiny())


def test_loader_serves_whole_batches_with_one_gather(label_dir, monkeypatch):
    from stages.features import fit
    from stages.train.datamodule import BatchedTensors, TabularDataModule

    calls = []
    original = BatchedTensors.__getitems__
    monkeypatch.setattr(BatchedTensors, "__getitems__", lambda self, idx: calls.append(len(idx)) or original(self, idx))
    plan = fit(pd.read_parquet(label_dir / "train.parquet"), ["x", "c"])
    module = TabularDataModule(label_dir, plan, batch_size=16, seed=0)
    module.setup("fit")
    batches = list(module.train_dataloader())
    assert [len(y) for _, y in batches] == [16, 16, 16, 12]
    assert calls == [16, 16, 16, 12]
    assert batches[0][0].shape == (16, plan.width)
