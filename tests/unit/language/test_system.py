"""Training a causal LM with Lightning: padded batches keep the end-of-turn token learnable, a batch with nothing
to learn is an error rather than a loss of 0, a tiny Llama built from a config learns its answers, and SmolLM2
takes LoRA steps at sequence 128 and batch 2 with its base weights untouched and a validation loss computed."""

from functools import partial

import pytest
import torch
from torch.utils.data import DataLoader

from millrace.errors import MillraceError
from millrace.language import base, chat, release_files
from millrace.language.batches import collate
from millrace.language.strategies import LoraSettings, lora
from millrace.language.system import CausalLMSystem
from millrace.models.network import parameter_counts
from tests.helpers import language
from tests.helpers.language import quiet_trainer

CHATS = [
    [{"role": "user", "content": f"What is the capital of {country}?"}, {"role": "assistant", "content": capital}]
    for country, capital in [("France", "Paris"), ("Italy", "Rome"), ("Spain", "Madrid"), ("Peru", "Lima")]
]


@pytest.fixture(scope="module")
def tokenizer():
    return base.load_tokenizer(base.resolve(base.SMOLLM2))


@pytest.fixture(scope="module")
def examples(tokenizer):
    return [chat.tokenise(tokenizer, messages, 128, f"example {i + 1}") for i, messages in enumerate(CHATS)]


def loader(examples, tokenizer, batch_size=2):
    return DataLoader(examples, batch_size=batch_size, collate_fn=partial(collate, pad_id=tokenizer.pad_token_id))


def fit(system, examples, tokenizer, steps: int) -> float:
    trainer = quiet_trainer(max_steps=steps, num_sanity_val_steps=0)
    trainer.fit(system, loader(examples, tokenizer), loader(examples, tokenizer))
    return float(trainer.callback_metrics["val/loss"])


def tiny_llama(tokenizer):
    return language.tiny_llama(len(tokenizer))


def test_padding_keeps_the_end_of_turn_token_learnable_though_it_is_the_pad_token(tokenizer, examples):
    batch = collate(examples[:2], tokenizer.pad_token_id)
    short, long = sorted(range(2), key=lambda i: len(examples[i].input_ids))
    length = len(examples[short].input_ids)
    assert batch["attention_mask"][short, length:].sum() == 0 and (batch["labels"][short, length:] == chat.IGNORE).all()
    assert (batch["input_ids"][short, length:] == tokenizer.eos_token_id).all()  # pad = eos, told apart by the mask
    assert tokenizer.eos_token_id in batch["labels"][short, :length].tolist()  # the answer's own <|im_end|>


def test_a_batch_with_nothing_to_learn_is_an_error_not_a_loss_of_zero(tokenizer, examples):
    system = CausalLMSystem(tiny_llama(tokenizer), lr=1e-3)
    batch = collate(examples[:2], tokenizer.pad_token_id)
    batch["labels"][:] = chat.IGNORE
    with pytest.raises(MillraceError, match="a batch has no token to learn"):
        system.training_step(batch, 0)


def test_a_tiny_llama_built_from_a_config_learns_its_answers(tokenizer, examples):
    model = tiny_llama(tokenizer)
    with torch.no_grad():
        before = float(model(**collate(examples, tokenizer.pad_token_id)).loss)
    after = fit(CausalLMSystem(model, lr=2e-2, warmup_steps=2, total_steps=60), examples, tokenizer, steps=60)
    assert after < 0.5 * before


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_smollm2_takes_lora_steps_at_sequence_128_with_its_base_weights_untouched(tokenizer, examples, tmp_path):
    model = lora(base.load_model(base.resolve(base.SMOLLM2)), LoraSettings(r=8, alpha=16, dropout=0.0))
    counts = parameter_counts(model)
    assert 0 < counts["trainable_params"] < 0.01 * counts["total_params"]
    frozen = {n: p.detach().clone() for n, p in model.named_parameters() if "q_proj.base_layer" in n}
    adapters = {n: p.detach().clone() for n, p in model.named_parameters() if "lora_B" in n}
    assert all(len(example.input_ids) <= 128 for example in examples)
    val_loss = fit(CausalLMSystem(model, lr=1e-3, total_steps=4), examples, tokenizer, steps=4)
    named = dict(model.named_parameters())
    assert all(torch.equal(named[n], value) for n, value in frozen.items())
    assert any(not torch.equal(named[n], value) for n, value in adapters.items())  # the adapters trained
    assert 0 < val_loss < 20
    # Merged and saved as plain safetensors (a GGUF base must not keep a quantizer that refuses to save), it
    # reloads with transformers alone and computes what the adapted model computes.
    from transformers import AutoModelForCausalLM

    batch = collate(examples, tokenizer.pad_token_id)
    with torch.no_grad():
        adapted = model.eval()(**batch).logits
        weights = release_files.save(tmp_path, model.merge_and_unload(), tokenizer)  # as deploy ships it
        again = AutoModelForCausalLM.from_pretrained(tmp_path / "bundle", dtype="float32").eval()
        assert torch.allclose(adapted, again(**batch).logits, atol=1e-4)
    # Served as a release, it answers a chat through SmolLM2's own template as generate() does, and ends there.
    answer = served_answer(tmp_path, weights, [{"role": "user", "content": "What is the capital of France?"}])
    ids = tokenizer.apply_chat_template(
        [{"role": "user", "content": "What is the capital of France?"}], add_generation_prompt=True,
        return_tensors="pt", return_dict=True,
    )  # fmt: skip
    made = again.generate(**ids, max_new_tokens=24, do_sample=False, eos_token_id=tokenizer.eos_token_id)
    new = made[0, ids["input_ids"].shape[1] :].tolist()
    assert answer["choices"][0]["message"]["content"] == tokenizer.decode(new, skip_special_tokens=True) != ""
    assert answer["choices"][0]["finish_reason"] == ("stop" if new[-1] == tokenizer.eos_token_id else "length")


def served_answer(release, weights: str, messages: list[dict[str, str]]) -> dict:
    """A greedy answer of the server (in-process) over the bundle saved into `release` (`weights`: its sha256)."""
    from fastapi.testclient import TestClient

    from millrace.config.params import Serve
    from millrace.files import write_json
    from millrace.serving.app import create_app, load_bundle

    manifest = release_files.named(weights) | {"model_name": "smollm2-sft", "task": "sft"}
    write_json(release / release_files.MANIFEST, manifest)
    with TestClient(create_app(load_bundle(release), Serve())) as client:
        body = {"model": "smollm2-sft", "messages": messages, "max_tokens": 24, "temperature": 0}
        return client.post("/v1/chat/completions", json=body).json()
