"""A trained causal LM on disk (the train stage's output) and back.

`<paths.train>/` holds `model.json` (what was trained: base, strategy, parameter counts, best epoch and
validation loss), `tokenizer/` (the tokenizer and chat template the tokens were made with, saved as Hugging Face
files) and either `adapter/` (LoRA or prompt tuning: only what trained, over the base `model.pretrained` names)
or `model/` (every weight: full, freeze, gradual unfreezing), as safetensors.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from millrace.errors import MillraceError
from millrace.files import read_json, write_json
from millrace.language import base

ADAPTER, MODEL, TOKENIZER, META = "adapter", "model", "tokenizer", "model.json"
ADAPTER_STRATEGIES = ("lora", "qlora", "prompt_tuning")


def save(out: Path, model, tokenizer, meta: dict[str, Any]) -> None:
    """The trained weights (an adapter alone where only it trained), the tokenizer and model.json."""
    out = Path(out)
    folder = ADAPTER if meta["strategy"] in ADAPTER_STRATEGIES else MODEL
    base.quiet()
    model.save_pretrained(out / folder, safe_serialization=True)
    tokenizer.save_pretrained(out / TOKENIZER)
    write_json(out / META, meta | {"weights": folder})


def meta(train_dir: Path) -> dict[str, Any]:
    path = Path(train_dir) / META
    if not path.is_file():
        raise MillraceError(f"{path} is missing: run the train stage (dvc repro)")
    return read_json(path)


def load_tokenizer(train_dir: Path):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(Path(train_dir) / TOKENIZER)


def load(train_dir: Path):
    """The trained model in eval mode: the base with its adapter, or the saved weights."""
    info = meta(train_dir)
    if info["weights"] == ADAPTER:
        from peft import PeftModel

        from millrace.language.strategies import peft_quietly

        model = base.load_model(base.resolve(info["pretrained"]))
        return peft_quietly(PeftModel.from_pretrained, model, Path(train_dir) / ADAPTER).eval()
    from transformers import AutoModelForCausalLM

    return AutoModelForCausalLM.from_pretrained(Path(train_dir) / MODEL, dtype="float32").eval()
