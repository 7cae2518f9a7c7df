"""Language-model test material made by the tests: a tiny Llama built from a config (random weights) with
SmolLM2's tokenizer and chat template, saved as a Hugging Face checkpoint folder, and a synthetic instruction set
whose answers follow from a word of the prompt (so a tiny model can learn them in a few epochs: evidence that
the pipeline trains, not of quality)."""

from __future__ import annotations

import json
from pathlib import Path

GREETINGS = {"French": "Bonjour.", "Spanish": "Hola.", "German": "Guten Tag.", "Italian": "Ciao."}
NAMES = [
    "Alice", "Bruno", "Chiara", "Dmitri", "Elena", "Farid", "Greta", "Hiro", "Ines", "Jonas", "Kemal", "Lucia",
    "Mateo", "Nadia", "Oskar", "Priya", "Quentin", "Rosa", "Sven", "Tomoko", "Umar", "Vera", "Wanda", "Xavier",
]  # fmt: skip


def tiny_llama(vocab_size: int, layers: int = 2, tie: bool = False, seed: int = 0, **config):
    """A Llama with hidden size 32 and random weights (seeded), in training mode."""
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    torch.manual_seed(seed)
    settings = {"max_position_embeddings": 256} | config
    shape = LlamaConfig(
        vocab_size=vocab_size,
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=layers,
        num_attention_heads=4,
        num_key_value_heads=2,
        tie_word_embeddings=tie,
        **settings,
    )
    return LlamaForCausalLM(shape)


def quiet_trainer(**limits):
    """A CPU Lightning Trainer with no logger, checkpoints, bars or summary; `limits` as Trainer takes them."""
    import lightning as L

    return L.Trainer(
        accelerator="cpu",
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        **limits,
    )


def tiny_llama_folder(folder: Path, seed: int = 0) -> Path:
    """A 2-layer Llama (hidden 32) with SmolLM2's tokenizer, saved where model.pretrained can name it."""
    from millrace.language import base

    tokenizer = base.load_tokenizer(base.resolve(base.SMOLLM2))
    special = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
    model = tiny_llama(len(tokenizer), seed=seed, pad_token_id=tokenizer.pad_token_id, **special)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


def greetings(path: Path) -> Path:
    """An alpaca JSON Lines file: greet a person in a language; the answer is that language's greeting."""
    with open(path, "w") as file:
        for name in NAMES:
            for language, greeting in GREETINGS.items():
                record = {"instruction": f"Greet {name} in {language}.", "input": "", "output": greeting}
                file.write(json.dumps(record) + "\n")
    return path


def tiny_bundle(folder: Path, name: str = "greetings-sft", context: int = 4096) -> Path:
    """A deployed language-model bundle as deploy lays it out (bundle/, manifest.json listing its sha256), over
    a tiny random Llama whose context is `context` tokens: material for the server, not a trained model."""
    from millrace.files import write_json
    from millrace.language import base, release_files

    tokenizer = base.load_tokenizer(base.resolve(base.SMOLLM2))
    special = {"bos_token_id": tokenizer.bos_token_id, "eos_token_id": tokenizer.eos_token_id}
    model = tiny_llama(len(tokenizer), pad_token_id=tokenizer.pad_token_id, max_position_embeddings=context, **special)
    weights = release_files.save(folder, model.eval(), tokenizer)
    manifest = release_files.named(weights) | {"model_name": name, "task": "sft", "strategy": "full"}
    write_json(folder / release_files.MANIFEST, manifest)
    return folder
