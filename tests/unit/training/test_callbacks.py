"""Gradual unfreezing releases one encoder layer from the top every n epochs."""

import pytest

from millrace.config.params import Model
from millrace.inputs import texts
from millrace.models import trained_model
from millrace.models.catalogue import FAMILIES
from millrace.training.callbacks import GradualUnfreeze
from millrace.training.fit import model_spec

HEAD = 384 * 4 + 4


@pytest.fixture(scope="module")
def plan():
    return texts.fit("text", 32)


def _build(plan, strategy):
    spec = model_spec({"family": "text_minilm", "strategy": strategy, "size": "medium"}, Model())
    return FAMILIES["text_minilm"].build(plan, 4, spec), spec


def test_gradual_unfreeze_releases_one_layer_from_the_top_every_n_epochs(plan):
    model, _ = _build(plan, "gradual_unfreeze")

    class Trainer:
        current_epoch = 0

    class Module:
        backbone = model

    callback = GradualUnfreeze(every=2)
    released = []
    for epoch in range(6):
        Trainer.current_epoch = epoch
        callback.on_train_epoch_start(Trainer, Module)
        released.append(trained_model.parameter_counts(model)["trainable_params"])
    layer = sum(p.numel() for p in model.encoder.encoder.layer[5].parameters())
    assert released[:2] == [HEAD, HEAD]
    assert released[2] == released[3] == HEAD + layer
    assert released[4] == HEAD + 2 * layer
    assert all(p.requires_grad for p in model.encoder.encoder.layer[4].parameters())
    assert not any(p.requires_grad for p in model.encoder.encoder.layer[3].parameters())
