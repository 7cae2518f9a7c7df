"""Gradual unfreezing releases one encoder layer from the top every n epochs."""

from millrace.models import network
from millrace.training.callbacks import GradualUnfreeze
from tests.helpers.models import HEAD, build_minilm


def test_gradual_unfreeze_releases_one_layer_from_the_top_every_n_epochs(text_plan):
    model, _ = build_minilm(text_plan, "gradual_unfreeze")

    class Trainer:
        current_epoch = 0

    class Module:  # as the System gives its backbone's parts
        layer_groups = staticmethod(model.layer_groups)

    callback = GradualUnfreeze(every=2)
    released = []
    for epoch in range(6):
        Trainer.current_epoch = epoch
        callback.on_train_epoch_start(Trainer, Module)
        released.append(network.parameter_counts(model)["trainable_params"])
    layer = sum(p.numel() for p in model.encoder.encoder.layer[5].parameters())
    assert released[:2] == [HEAD, HEAD]
    assert released[2] == released[3] == HEAD + layer
    assert released[4] == HEAD + 2 * layer
    assert all(p.requires_grad for p in model.encoder.encoder.layer[4].parameters())
    assert not any(p.requires_grad for p in model.encoder.encoder.layer[3].parameters())
