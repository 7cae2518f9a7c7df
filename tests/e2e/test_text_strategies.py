"""Each fine-tuning strategy of the MiniLM family learns the text example: all beat the majority class."""

import json
from pathlib import Path

import pytest

from millrace.evaluation.metrics import scores
from millrace.files import write_parquet
from millrace.models import network, trained_model
from millrace.models.trained_model import predict
from stages import acquire, clean, label
from tests.helpers.params import parse

pytestmark = pytest.mark.slow

SETTINGS = {
    # 32 tokens hold each message's opener and its topic clause; half the default length halves the encoder's work
    "data": {
        "source": {"kind": "builtin", "name": "reviews"},
        "target": "topic",
        "features": ["text"],
        "text": {"max_length": 32},
    },
    "train": {"max_epochs": 2, "lr": 0.002, "batch_size": 32},
}


TRAIN_PER_CLASS = 60


@pytest.fixture(scope="module")
def label_dir(tmp_path_factory) -> Path:
    params = parse(SETTINGS)
    frame, _ = acquire.run(params.data)
    cleaned, _, _ = clean.run(frame, "topic", params.clean)
    splits, classes, task = label.run(cleaned, "topic", params.label.split, params.seed)
    directory = tmp_path_factory.mktemp("label")
    # 60 training texts per topic are plenty to show a strategy learns, at half the encoder passes
    splits["train"] = splits["train"].groupby("label", group_keys=False).head(TRAIN_PER_CLASS)
    for name, split in splits.items():
        write_parquet(directory / f"{name}.parquet", split)
    (directory / "label_map.json").write_text(json.dumps({"classes": classes, "task": task}))
    return directory


@pytest.mark.parametrize("strategy", ["freeze", "lora", "gradual_unfreeze", "full"])
def test_strategy_beats_the_majority_class_clearly(label_dir, tmp_path, strategy):
    import pandas as pd

    from stages.train import run

    params = parse(SETTINGS)
    selection = {"family": "text_minilm", "strategy": strategy, "size": "medium"}
    meta = run(label_dir, selection, params, tmp_path / "model", tmp_path / "live", tmp_path / "checkpoints")
    test = pd.read_parquet(label_dir / "test.parquet")
    model = trained_model.load(tmp_path / "model")
    accuracy = scores(predict(model, test), test["label"].to_numpy(), model.classes)["accuracy"]
    majority = test["label"].value_counts(normalize=True).max()
    assert accuracy >= majority + 0.4, f"{strategy}: {accuracy:.3f} vs majority {majority:.3f}"
    assert 0 < meta["trainable_params"] <= meta["total_params"]


def test_a_distilled_bag_of_embeddings_is_far_smaller_and_close_to_its_minilm_teacher(label_dir, tmp_path):
    import pandas as pd

    from millrace.models.trained_model import model_size
    from stages.evaluate import teacher_comparison
    from stages.train import run

    teacher_dir = tmp_path / "teacher"
    teacher = {"family": "text_minilm", "strategy": "freeze", "size": "medium"}
    run(label_dir, teacher, parse(SETTINGS), teacher_dir, tmp_path / "live0", tmp_path / "checkpoints")
    settings = {
        **SETTINGS,
        "model": {"name": "text_bow", "distill": {"teacher": str(teacher_dir), "temperature": 2.0, "alpha": 0.5}},
        "train": {"max_epochs": 30, "lr": 0.01, "patience": 5},
    }
    student = {"family": "text_bow", "strategy": "full", "size": "small"}
    meta = run(label_dir, student, parse(settings), tmp_path / "student", tmp_path / "live1", tmp_path / "ck")
    assert meta["distilled_from"]["teacher"] == str(teacher_dir)

    test = pd.read_parquet(label_dir / "test.parquet")
    model = trained_model.load(tmp_path / "student")
    comparison = teacher_comparison(model, test)
    accuracy = scores(predict(model, test), test["label"].to_numpy(), model.classes)["accuracy"]
    assert comparison["family"] == "text_minilm"
    assert model_size(model, tmp_path / "student")["parameter_bytes"] < 0.15 * comparison["parameter_bytes"]
    assert accuracy >= test["label"].value_counts(normalize=True).max() + 0.4
    assert accuracy >= comparison["accuracy"] - 0.15


def test_a_teacher_with_other_classes_is_refused(label_dir, tmp_path):
    from millrace.errors import MillraceError
    from millrace.inputs import texts
    from millrace.models.catalogue import FAMILIES
    from stages.train import run

    teacher_dir = tmp_path / "teacher"
    teacher_dir.mkdir()
    spec = {"strategy": "full", "size": "small", "embedding": 8, "dropout": 0.0}
    plan = texts.fit("text", 16)
    meta = {"family": "text_bow", "task": "classification", "classes": ["x", "y"], "model": spec}
    network.save(teacher_dir, FAMILIES["text_bow"].build(plan, 2, spec), meta, plan)
    settings = {**SETTINGS, "model": {"name": "text_bow", "distill": {"teacher": str(teacher_dir)}}}
    with pytest.raises(MillraceError, match=r"predicts \['x', 'y'\].*same labels"):
        run(label_dir, {"family": "text_bow"}, parse(settings), tmp_path / "s", tmp_path / "l", tmp_path / "c")
