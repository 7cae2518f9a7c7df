"""Smoke test of the real Lightning training on a tiny split, and its determinism on CPU."""

import inspect
import json

import numpy as np
import pytest
import torch
from safetensors.numpy import load_file

from millrace.errors import MillraceError
from millrace.models import network, trained_model
from stages.train import run
from tests.helpers.params import parse


def _train(label_dir, out_root):
    params = parse({"data": {"target": "y", "features": ["x", "c"]}, "train": {"max_epochs": 3}})
    out, live = out_root / "model", out_root / "live"
    out.mkdir(parents=True)
    meta = run(label_dir, {"family": "tabular_mlp"}, params, out, live, out_root / "checkpoints")
    return out, live, meta


def test_training_saves_a_loadable_model_and_curves(label_dir, tmp_path, monkeypatch):
    def no_stack(*_args, **_kwargs):
        raise AssertionError("inspect.stack() reads every frame's source: ~50 ms a call in a warm stage")

    monkeypatch.setattr(inspect, "stack", no_stack)
    out, live, meta = _train(label_dir, tmp_path / "a")
    assert meta["epochs_run"] == 3 and meta["classes"] == ["n", "y"]
    model = trained_model.load(out)
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

    from millrace.training.fit import trainer
    from millrace.training.system import Objective, System

    data = TensorDataset(torch.randn(32, 2), torch.randint(0, 2, (32,)))

    class Tiny(LightningDataModule):
        def train_dataloader(self):
            return DataLoader(data, batch_size=8)

        def val_dataloader(self):
            return DataLoader(data, batch_size=32)

    params = parse({"train": {"max_epochs": 3}})
    fitter, checkpoint = trainer(params.train, tmp_path, logger=False)
    with pytest.raises(FloatingPointError, match="train/loss is nan after epoch 0"):
        fitter.fit(System(NaNAfterFirstStep(), Objective(outputs=2), 0.01, 0.0), datamodule=Tiny())
    assert not (tmp_path / "best.ckpt").exists()


def test_each_epoch_line_shows_that_epochs_training_and_validation_figures(label_dir, tmp_path, caplog):
    caplog.set_level("INFO", logger="millrace.training.system")
    _train(label_dir, tmp_path)
    lines = [r.getMessage() for r in caplog.records if r.getMessage().startswith("epoch ")]
    assert [line.split()[1] for line in lines] == ["0", "1", "2"]
    for line in lines:
        assert {field.split("=")[0] for field in line.split()[2:]} == {"train/acc", "train/loss", "val/acc", "val/loss"}
    logged = json.loads((tmp_path / "live" / "metrics.json").read_text())
    last = dict(field.split("=") for field in lines[-1].split()[2:])
    assert float(last["train/loss"]) == pytest.approx(logged["train"]["loss"], abs=1e-4)
    assert float(last["val/acc"]) == pytest.approx(logged["val"]["acc"], abs=1e-4)


class CrashAtEpoch(__import__("lightning").Callback):
    """Stands in for a killed process: training stops abruptly at the start of an epoch."""

    def __init__(self, epoch: int) -> None:
        self.epoch = epoch

    def on_train_epoch_start(self, trainer, module) -> None:
        if trainer.current_epoch == self.epoch:
            raise SystemExit(f"crashed at epoch {self.epoch}")


def test_an_interrupted_run_resumes_and_ends_where_an_uninterrupted_one_does(label_dir, tmp_path):
    params = parse({"data": {"target": "y", "features": ["x", "c"]}, "train": {"max_epochs": 5, "scheduler": "cosine"}})
    selection = {"family": "tabular_mlp"}
    checkpoints = tmp_path / "checkpoints"
    for name in ("whole", "resumed"):
        (tmp_path / name).mkdir()
    whole = run(label_dir, selection, params, tmp_path / "whole", tmp_path / "live0", tmp_path / "other")
    with pytest.raises(SystemExit):
        run(label_dir, selection, params, tmp_path / "resumed", tmp_path / "live1", checkpoints, (CrashAtEpoch(3),))
    assert (checkpoints / "last.ckpt").exists()
    resumed = run(label_dir, selection, params, tmp_path / "resumed", tmp_path / "live2", checkpoints)
    assert resumed["resumed"] is True and whole["resumed"] is False
    assert resumed["best_epoch"] == whole["best_epoch"]
    a = load_file(str(tmp_path / "whole" / "model.safetensors"))
    b = load_file(str(tmp_path / "resumed" / "model.safetensors"))
    for key in a:
        np.testing.assert_array_equal(a[key], b[key])
    for name in ("model.json", "preprocess.json"):  # the whole model, so nothing downstream reruns
        assert (tmp_path / "whole" / name).read_bytes() == (tmp_path / "resumed" / name).read_bytes()
    assert not checkpoints.exists()  # removed once training completed


def _crash_then_rerun(label_dir, tmp_path, params, rerun_params, damage=None, crash_at=2):
    """Train until a crash at the start of epoch `crash_at`, optionally damage what it left, then train again."""
    checkpoints = tmp_path / "checkpoints"
    (tmp_path / "a").mkdir()
    selection = {"family": "tabular_mlp"}
    with pytest.raises(SystemExit):
        run(label_dir, selection, params, tmp_path / "a", tmp_path / "l", checkpoints, (CrashAtEpoch(crash_at),))
    if damage:
        damage(checkpoints)
    return run(label_dir, selection, rerun_params, tmp_path / "a", tmp_path / "l2", checkpoints)


def _truncate(path):
    path.write_bytes(path.read_bytes()[:100])


def test_changed_params_do_not_resume_someone_elses_run(label_dir, tmp_path):
    params = parse({"data": {"target": "y", "features": ["x", "c"]}, "train": {"max_epochs": 4}})
    changed = parse({"data": {"target": "y", "features": ["x", "c"]}, "train": {"max_epochs": 4, "lr": 0.02}})
    meta = _crash_then_rerun(label_dir, tmp_path, params, changed)
    assert meta["resumed"] is False and meta["epochs_run"] == 4


def test_a_truncated_last_checkpoint_resumes_from_the_one_before_and_ends_the_same(label_dir, tmp_path, capsys):
    params = parse({"data": {"target": "y", "features": ["x", "c"]}, "train": {"max_epochs": 5}})
    (tmp_path / "whole").mkdir()
    whole = run(label_dir, {"family": "tabular_mlp"}, params, tmp_path / "whole", tmp_path / "l0", tmp_path / "c0")

    def damage(checkpoints):
        assert network.load_checkpoint(checkpoints / "previous.ckpt")["epoch"] == 1  # last.ckpt holds epoch 2
        _truncate(checkpoints / "last.ckpt")

    meta = _crash_then_rerun(label_dir, tmp_path, params, params, damage, crash_at=3)
    out = capsys.readouterr().out
    assert "cannot resume from last.ckpt" in out and "resuming the interrupted run from" in out
    assert f"{tmp_path / 'checkpoints' / 'previous.ckpt'}" in out
    assert meta["resumed"] is True and meta["best_epoch"] == whole["best_epoch"]
    assert (tmp_path / "a/model.safetensors").read_bytes() == (tmp_path / "whole/model.safetensors").read_bytes()


@pytest.mark.parametrize("damage", ["missing", "truncated"])
def test_an_interrupted_run_whose_checkpoints_are_gone_is_an_error_not_a_silent_restart(label_dir, tmp_path, damage):
    params = parse({"data": {"target": "y", "features": ["x", "c"]}, "train": {"max_epochs": 4}})

    def lose(checkpoints):
        for name in ("last.ckpt", "previous.ckpt"):
            (checkpoints / name).unlink() if damage == "missing" else _truncate(checkpoints / name)

    with pytest.raises(MillraceError, match=r"saved epoch 1 in .*checkpoints, but no checkpoint of it loads") as exc:
        _crash_then_rerun(label_dir, tmp_path, params, params, lose)
    if damage == "missing":
        assert "last.ckpt is missing; previous.ckpt is missing" in str(exc.value)
    assert "set train.resume: never" in str(exc.value)
    assert (tmp_path / "checkpoints/saved.json").exists()  # nothing of the interrupted run was thrown away
    assert not (tmp_path / "a/model.safetensors").exists()
    never = params.model_copy(update={"train": params.train.model_copy(update={"resume": "never"})})
    meta = run(label_dir, {"family": "tabular_mlp"}, never, tmp_path / "a", tmp_path / "l3", tmp_path / "checkpoints")
    assert meta["resumed"] is False and meta["epochs_run"] == 4


def test_a_run_interrupted_before_its_first_checkpoint_starts_again_from_epoch_0(label_dir, tmp_path):
    params = parse({"data": {"target": "y", "features": ["x", "c"]}, "train": {"max_epochs": 3}})
    meta = _crash_then_rerun(label_dir, tmp_path, params, params, crash_at=0)
    assert meta["resumed"] is False and meta["epochs_run"] == 3


def test_a_label_carried_only_by_a_free_text_column_of_a_table_is_learned(tmp_path):
    """Synthetic tickets (made here, evidence of the mechanism only): the topic is in the notes' words alone;
    amount and channel are noise. Declared: at least 90% test accuracy."""
    import pandas as pd

    rng = np.random.default_rng(1)
    topics = {
        "billing": ["invoice", "refund", "charged twice", "payment failed", "receipt"],
        "delivery": ["parcel", "courier", "tracking number", "arrived late", "driver"],
        "quality": ["stopped working", "cracked", "battery died", "faded colour", "rattling noise"],
    }
    filler = ["hello", "please", "help", "today", "again", "my order", "thanks", "urgent", "customer", "since monday"]
    classes = sorted(topics)
    directory = tmp_path / "label"
    directory.mkdir()
    for split, n in [("train", 300), ("val", 90), ("test", 90)]:
        label = rng.integers(0, len(classes), n)
        notes = [
            " ".join([*rng.choice(filler, 3), rng.choice(topics[classes[k]]), *rng.choice(filler, 2)]) for k in label
        ]
        frame = pd.DataFrame(
            {"notes": notes, "amount": rng.gamma(2.0, 30.0, n), "channel": rng.choice(["web", "phone", "mail"], n)}
        )
        frame.assign(topic=[classes[k] for k in label], label=label).to_parquet(directory / f"{split}.parquet")
    (directory / "label_map.json").write_text(json.dumps({"classes": classes}))
    params = parse({"data": {"target": "topic", "features": None}, "train": {"max_epochs": 15, "patience": 5}})
    out = tmp_path / "model"
    out.mkdir()
    run(directory, {"family": "tabular_mlp", "size": "small"}, params, out, tmp_path / "live", tmp_path / "ckpt")
    model = trained_model.load(out)
    assert model.plan.roles == {"notes": "text", "amount": "numeric", "channel": "categorical"}
    test = pd.read_parquet(directory / "test.parquet")
    accuracy = (trained_model.predict(model, test).numpy().argmax(1) == test["label"].to_numpy()).mean()
    assert accuracy >= 0.9
