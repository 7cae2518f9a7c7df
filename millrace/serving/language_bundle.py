"""A deployed language-model bundle loaded for generation: the folder deploy wrote (weights, tokenizer, chat
template, generation config), checked against its manifest, answering through the decoding loop evaluate and
deploy used (millrace/language/decoding.py), so the server answers as the model was evaluated.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from millrace.config.params import LANGUAGE_TASKS
from millrace.errors import MillraceError
from millrace.files import read_json
from millrace.language import decoding, quantised
from millrace.language.decoding import Sampling
from millrace.language.release_files import BUNDLE, MANIFEST
from millrace.serving.bundle import verify


class LanguageBundle:
    def __init__(self, directory: Path | str, variant: str = "fp32") -> None:
        import torch
        from transformers import AutoModelForCausalLM, AutoTokenizer

        from millrace.language import base

        directory = verify(directory)
        self.manifest = read_json(directory / MANIFEST)
        self.created = int((directory / MANIFEST).stat().st_mtime)  # when deploy wrote it (OpenAI's `created`)
        folder = directory / BUNDLE
        base.quiet()
        self.tokenizer = AutoTokenizer.from_pretrained(folder)
        if (folder / "config.json").is_file():  # a whole model (LoRA merged, or every weight trained)
            self.model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32).eval()
        else:  # prompt tuning: the adapter over its base, which cannot be merged
            from peft import PeftModel

            from millrace.language.strategies import peft_quietly

            over = base.load_model(base.resolve(self.manifest["pretrained"]))
            self.model = peft_quietly(PeftModel.from_pretrained, over, folder).eval()
        self.end_ids = decoding.end_ids(self.tokenizer, self.model)
        if variant != "fp32":
            _check_kept(self.manifest, variant, directory)
            self.model = quantised.int8(self.model)
        self.variant = variant
        config = getattr(self.model, "config", None)
        self.context_length = int(getattr(config, "max_position_embeddings", 0) or self.tokenizer.model_max_length)

    @property
    def version(self) -> str:
        return self.manifest["version"]

    @property
    def name(self) -> str:
        return self.manifest["model_name"]

    @property
    def chat(self) -> bool:
        return bool(self.tokenizer.chat_template)

    def chat_ids(self, messages: list[dict[str, str]]) -> list[int]:
        """The prompt's token ids through the chat template the model was trained with, ready for its answer."""
        return decoding.chat_prompt(self.tokenizer, messages)

    def text_ids(self, text: str) -> list[int]:
        return decoding.text_prompt(self.tokenizer, text)

    def decode(self, ids: list[int]) -> str:
        return self.tokenizer.decode(ids, skip_special_tokens=True)

    def tokens(self, prompt: list[int], sampling: Sampling, cancelled: threading.Event) -> Iterator[int]:
        """The answer's token ids, one at a time (see decoding.tokens)."""
        return decoding.tokens(self.model, prompt, sampling, self.end_ids, cancelled)

    def describe(self) -> dict[str, Any]:
        keys = ("model_name", "version", "task", "base", "strategy", "trainable_params", "total_params")
        return {k: self.manifest.get(k) for k in keys} | {"context_length": self.context_length}


def _check_kept(manifest: dict[str, Any], variant: str, directory: Path) -> None:
    """A variant is served only if deploy built it and kept it (within its tolerance)."""
    measured = (manifest.get("variants") or {}).get(variant)
    if variant != "int8" or measured is None or "refused" in measured:
        why = (measured or {}).get("refused", "deploy did not build it (deploy.variants)")
        raise MillraceError(f"serve.variant is {variant!r}, but the language model at {directory} has none: {why}")


def is_language(directory: Path | str) -> bool:
    """Whether a deployed bundle holds a language model (else a table, image or text classifier's graphs)."""
    path = Path(directory) / MANIFEST
    if not path.is_file():
        raise MillraceError(f"no deployed bundle at {directory}; run `dvc repro` first")
    return read_json(path).get("task") in LANGUAGE_TASKS
