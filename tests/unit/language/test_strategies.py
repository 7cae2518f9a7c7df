"""Fine-tuning strategies on a tiny Llama built from a config: each trains what it says and leaves the rest
bit-identical (checked after real optimiser steps), gradual unfreezing releases the top block first, and what
this machine or these settings cannot run is refused with the reason."""

import pytest
import torch
from torch.utils.data import DataLoader

from millrace.errors import MillraceError
from millrace.language import strategies
from millrace.language.batches import collate
from millrace.language.chat import Tokenised
from millrace.language.system import CausalLMSystem
from millrace.models.network import parameter_counts
from millrace.training.callbacks import GradualUnfreeze
from tests.helpers import language
from tests.helpers.language import quiet_trainer

EXAMPLES = [Tokenised([1, 5 + i, 9, 12 + i, 2], [-100, -100, 9, 12 + i, 2], False) for i in range(4)]


def tiny_llama(tie: bool = False):
    return language.tiny_llama(64, layers=3, tie=tie)


def train(model, epochs: int = 1, callbacks=(), unfreeze=None) -> dict[str, torch.Tensor]:
    """Train a few steps; return the weights as they were before, by name."""
    before = {name: p.detach().clone() for name, p in model.named_parameters()}
    system = CausalLMSystem(model, lr=5e-2, total_steps=8 * epochs, unfreeze=unfreeze)
    trainer = quiet_trainer(max_epochs=epochs, callbacks=list(callbacks))
    trainer.fit(system, DataLoader(EXAMPLES, batch_size=2, collate_fn=lambda b: collate(b, 0)))
    return before


def changed(model, before) -> set[str]:
    return {name for name, p in model.named_parameters() if not torch.equal(p, before[name])}


def test_full_trains_every_weight():
    model = strategies.apply(tiny_llama(), "full")
    before = train(model)
    assert changed(model, before) >= {
        "model.embed_tokens.weight",
        "lm_head.weight",
        "model.layers.0.mlp.up_proj.weight",
    }


def test_lora_trains_only_its_adapters():
    model = strategies.apply(tiny_llama(), "lora", lora_settings=strategies.LoraSettings(r=2, alpha=4, dropout=0.0))
    before = train(model)
    moved = changed(model, before)
    assert moved and all("lora_" in name for name in moved)
    assert {name.split(".")[-4] for name in moved if "lora_B" in name} == {"q_proj", "v_proj"}


def test_prompt_tuning_trains_only_the_virtual_tokens():
    model = strategies.apply(tiny_llama(), "prompt_tuning", virtual_tokens=4)
    counts = parameter_counts(model)
    assert counts["trainable_params"] == 4 * 32
    before = train(model)
    assert changed(model, before) == {"prompt_encoder.default.embedding.weight"}


@pytest.mark.parametrize(
    ("layers", "tie", "frozen", "trained"),
    [
        (
            "first 2",
            False,
            ["model.embed_tokens.weight", "model.layers.0.", "model.layers.1."],
            ["model.layers.2.", "lm_head"],
        ),
        (
            "last 1",
            False,
            ["model.layers.2.", "model.norm.weight", "lm_head.weight"],
            ["model.embed_tokens", "model.layers.0."],
        ),
        ("last 1", True, ["model.layers.2.", "model.embed_tokens.weight"], ["model.layers.0.", "model.layers.1."]),
    ],
)
def test_freeze_first_or_last_n_blocks(layers, tie, frozen, trained):
    model = strategies.apply(tiny_llama(tie), "freeze", freeze_layers=layers)
    before = train(model)
    moved = changed(model, before)
    names = [name for name, _ in model.named_parameters()]
    for prefix in frozen:
        assert not any(name.startswith(prefix) for name in moved), prefix
        assert any(name.startswith(prefix) for name in names), prefix
    for prefix in trained:
        assert any(name.startswith(prefix) for name in moved), prefix


@pytest.mark.parametrize(
    ("value", "said"),
    [
        ("middle 2", "write `first N` or `last N`"),
        ("first", "write `first N` or `last N`"),
        ("first 3", "the base has 3 blocks; freeze 1 to 2"),
        (None, "model.freeze_layers: None"),
    ],
)
def test_freeze_layers_that_do_not_fit_the_base_are_refused(value, said):
    with pytest.raises(MillraceError, match=said):
        strategies.apply(tiny_llama(), "freeze", freeze_layers=value)


def test_gradual_unfreezing_releases_the_top_block_first():
    model = strategies.apply(tiny_llama(), "gradual_unfreeze")
    before = train(model, epochs=2, callbacks=[GradualUnfreeze(1)], unfreeze=strategies.unfreeze_groups(model))
    moved = changed(model, before)
    assert {"lm_head.weight", "model.norm.weight"} <= moved  # the head from the first epoch
    assert any(name.startswith("model.layers.2.") for name in moved)  # released for the second
    assert not any(name.startswith(("model.layers.0.", "model.layers.1.", "model.embed_tokens")) for name in moved)


def test_what_cannot_run_here_is_refused_with_the_reason():
    with pytest.raises(MillraceError, match="qlora loads the base in 4 bits with bitsandbytes, which needs a CUDA"):
        strategies.refuse("qlora", cuda=False, packing=False)
    with pytest.raises(MillraceError, match="peft drops the position ids"):
        strategies.refuse("prompt_tuning", cuda=False, packing=True)
    with pytest.raises(MillraceError, match="a language model takes full, lora, prompt_tuning"):
        strategies.refuse("adapters", cuda=False, packing=False)
    with pytest.raises(MillraceError, match="needs the base loaded in 4 bits"):
        strategies.apply(tiny_llama(), "qlora")
    strategies.refuse("lora", cuda=False, packing=True)


def test_gradient_checkpointing_gives_the_same_gradients():
    from millrace.language.batches import collate as padded

    batch = padded(EXAMPLES, 0)
    found = []
    for checkpointing in (False, True):
        model = tiny_llama().train()
        if checkpointing:
            model.gradient_checkpointing_enable()
            assert model.is_gradient_checkpointing
        model(**batch, use_cache=False).loss.backward()
        found.append(model.model.layers[0].mlp.up_proj.weight.grad.clone())
    assert torch.allclose(found[0], found[1], atol=1e-6)


def test_a_prompt_tuned_models_losses_line_up_with_its_own_tokens():
    from millrace.language import judging
    from millrace.language.batches import collate as padded

    model = strategies.apply(tiny_llama(), "prompt_tuning", virtual_tokens=4).eval()
    losses = judging.example_losses(model, EXAMPLES, 0)
    with torch.no_grad():
        expected = float(model(**padded(EXAMPLES, 0)).loss)  # peft's own alignment past the virtual tokens
    assert sum(loss for loss, _ in losses) / sum(n for _, n in losses) == pytest.approx(expected, abs=1e-5)


@pytest.mark.parametrize("strategy", ["lora", "prompt_tuning"])
def test_wrapping_a_model_in_peft_shows_no_deprecation_warning_of_the_libraries_own(strategy, tmp_path):
    import warnings

    from peft import PeftModel

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        strategies.apply(tiny_llama(), strategy, virtual_tokens=4).save_pretrained(tmp_path)
        strategies.peft_quietly(PeftModel.from_pretrained, tiny_llama(), tmp_path)  # as evaluate and the server load
    assert [str(w.message) for w in caught if "is_gradient_checkpointing" in str(w.message)] == []
