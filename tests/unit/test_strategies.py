"""Each fine-tuning strategy trains (and saves) exactly the parameters it promises."""

import pandas as pd
import pytest
import torch

from stages import texts, trained
from stages.params import Model
from stages.registry import REGISTRY
from stages.train import model_spec
from stages.train.callbacks import GradualUnfreeze

ENCODER = 22_565_376  # MiniLM-L6 without its pooler
HEAD = 384 * 4 + 4
LORA = 6 * 2 * (8 * 384 + 384 * 8)  # 6 layers × query, value × (A + B) at r = 8


@pytest.fixture(scope="module")
def plan():
    return texts.fit("text", 32)


def _build(plan, strategy):
    spec = model_spec({"family": "text_minilm", "strategy": strategy, "size": "medium"}, Model())
    return REGISTRY["text_minilm"].build(plan, 4, spec), spec


@pytest.mark.parametrize(
    ("strategy", "trainable", "total"),
    [
        ("full", ENCODER + HEAD, ENCODER + HEAD),
        ("freeze", HEAD, ENCODER + HEAD),
        ("lora", LORA + HEAD, ENCODER + HEAD + LORA),
        ("gradual_unfreeze", HEAD, ENCODER + HEAD),  # before the first release
    ],
)
def test_trainable_and_total_parameters(plan, strategy, trainable, total):
    model, _ = _build(plan, strategy)
    assert trained.parameter_counts(model) == {"trainable_params": trainable, "total_params": total}


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
        released.append(trained.parameter_counts(model)["trainable_params"])
    layer = sum(p.numel() for p in model.encoder.encoder.layer[5].parameters())
    assert released[:2] == [HEAD, HEAD]
    assert released[2] == released[3] == HEAD + layer
    assert released[4] == HEAD + 2 * layer
    assert all(p.requires_grad for p in model.encoder.encoder.layer[4].parameters())
    assert not any(p.requires_grad for p in model.encoder.encoder.layer[3].parameters())


def test_lora_saves_only_adapters_and_head_and_loads_back_to_the_same_outputs(plan, tmp_path):
    model, spec = _build(plan, "lora")
    with torch.no_grad():
        for name, parameter in model.named_parameters():
            if "lora_B" in name:
                parameter.normal_()  # as if trained: B starts at zero
    meta = {"family": "text_minilm", "task": "classification", "model": spec, "classes": list("abcd")}
    trained.save(tmp_path, model, meta, plan)
    from safetensors.torch import load_file

    saved = load_file(str(tmp_path / trained.WEIGHTS))
    assert all("lora_" in k or k.startswith("head.") for k in saved)
    assert sum(v.numel() for v in saved.values()) == LORA + HEAD
    frame = pd.DataFrame({"text": ["where is my parcel", "I was charged twice"]})
    inputs = [torch.from_numpy(plan.encode(frame)[n]) for n in plan.input_names]
    loaded = trained.load(tmp_path)
    with torch.no_grad():
        torch.testing.assert_close(loaded.backbone(*inputs), model.eval()(*inputs))
        merged = loaded.backbone.for_export()(*inputs)
    torch.testing.assert_close(merged, model(*inputs), atol=1e-5, rtol=1e-4)
