"""How much of a pretrained causal LM a fine-tune changes (`model.strategy`), and what it trains.

- `full`: every weight.
- `lora`: low-rank adapters on the attention projections (peft); the base frozen.
- `prompt_tuning`: `model.virtual_tokens` trained embeddings put before every input (peft), initialised from
  the vocabulary's; the base frozen. peft drops position ids under prompt tuning, so it cannot be packed.
- `freeze` with `model.freeze_layers`: `first N` freezes the token embeddings and the N blocks nearest the
  input; `last N` the N blocks nearest the output, the final norm and the output head (which many bases, SmolLM2
  among them, tie to the token embeddings: those freeze with it).
- `gradual_unfreeze`: the output head (and final norm) trains first; every `train.unfreeze_every` epochs the
  next block down is released, then the embeddings (ULMFiT). With a tied head the embeddings train from the start.
- `qlora`: LoRA over a base loaded in 4 bits by bitsandbytes, which runs on CUDA only: refused elsewhere.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from torch import nn

from millrace.errors import MillraceError

STRATEGIES = ("full", "lora", "prompt_tuning", "freeze", "gradual_unfreeze", "qlora")
LLAMA_ATTENTION = ["q_proj", "v_proj"]  # Llama, Mistral and Qwen name their attention projections so
GPT2_ATTENTION = ["c_attn"]


@dataclass(frozen=True)
class LoraSettings:
    r: int = 8
    alpha: int = 16
    dropout: float = 0.05
    target_modules: tuple[str, ...] | None = None  # None: the base family's attention projections


def blocks(model: nn.Module) -> nn.ModuleList:
    """The decoder's blocks, input side first (`model.layers` in Llama-like bases, `transformer.h` in GPT-2)."""
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and name.rsplit(".", 1)[-1] in ("layers", "h") and len(module):
            return module
    raise MillraceError(
        f"model.strategy: cannot find the decoder blocks of {type(model).__name__} (a ModuleList named layers or "
        "h); use strategy full, lora or prompt_tuning"
    )


def parse_freeze_layers(value: str | None, available: int) -> tuple[str, int]:
    """`first N` or `last N`, N from 1 to the number of blocks less one."""
    side, _, count = (value or "").strip().partition(" ")
    if side not in ("first", "last") or not count.strip().isdigit():
        raise MillraceError(f"model.freeze_layers: {value!r}; write `first N` or `last N` (strategy freeze)")
    n = int(count)
    if not 1 <= n < available:
        raise MillraceError(
            f"model.freeze_layers: {value!r}, but the base has {available} blocks; freeze 1 to {available - 1}"
        )
    return side, n


def _head(model: nn.Module) -> list[nn.Module]:
    output = model.get_output_embeddings()
    norm = next((m for name, m in model.named_modules() if name.endswith(("model.norm", "transformer.ln_f"))), None)
    return [m for m in (norm, output) if m is not None]


def freeze(model: nn.Module, freeze_layers: str | None) -> nn.Module:
    decoder = blocks(model)
    side, n = parse_freeze_layers(freeze_layers, len(decoder))
    model.requires_grad_(True)
    frozen = [model.get_input_embeddings(), *decoder[:n]] if side == "first" else [*decoder[-n:], *_head(model)]
    for module in frozen:
        module.requires_grad_(False)
    return model


def unfreeze_groups(model: nn.Module) -> list[nn.Module]:
    """What gradual unfreezing releases, in order: the blocks from the output down, then the embeddings."""
    return [*reversed(blocks(model)), model.get_input_embeddings()]


def start_gradual(model: nn.Module) -> nn.Module:
    model.requires_grad_(False)
    for module in _head(model):
        module.requires_grad_(True)  # a tied head releases the embeddings with it
    return model


def lora(model: nn.Module, settings: LoraSettings) -> nn.Module:
    from peft import LoraConfig, TaskType, get_peft_model

    targets = settings.target_modules
    if targets is None:
        names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules()}
        targets = tuple(LLAMA_ATTENTION if set(LLAMA_ATTENTION) <= names else GPT2_ATTENTION)
    config = LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=settings.r,
        lora_alpha=settings.alpha,
        lora_dropout=settings.dropout,
        target_modules=list(targets),
    )
    return peft_quietly(get_peft_model, model, config)


def prompt_tuning(model: nn.Module, virtual_tokens: int) -> nn.Module:
    from peft import PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model

    config = PromptTuningConfig(
        task_type=TaskType.CAUSAL_LM,
        num_virtual_tokens=virtual_tokens,
        prompt_tuning_init=PromptTuningInit.SAMPLE_VOCAB,
    )
    return peft_quietly(get_peft_model, model, config)


def peft_quietly(make: Callable[..., nn.Module], *args: Any) -> nn.Module:
    """`make(*args)`, a peft wrapper made over a model, without the warning it prints on every stage run: peft 0.21
    reads transformers 5's deprecated `is_gradient_checkpointing`, which is peft's to mend, not the user's."""
    import warnings

    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="`is_gradient_checkpointing` is deprecated", category=FutureWarning)
        return make(*args)


def refuse(strategy: str, *, cuda: bool, packing: bool) -> None:
    """A strategy this machine or these settings cannot run, refused with the reason before anything loads."""
    if strategy not in STRATEGIES:
        raise MillraceError(f"model.strategy: {strategy!r}; a language model takes {', '.join(STRATEGIES)}")
    if strategy == "qlora" and not cuda:
        raise MillraceError(
            "model.strategy: qlora loads the base in 4 bits with bitsandbytes, which needs a CUDA GPU, and this "
            "machine has none; use lora (the same adapters over the full-precision base)"
        )
    if strategy == "qlora" and importlib.util.find_spec("bitsandbytes") is None:
        raise MillraceError(
            "model.strategy: qlora needs the bitsandbytes package, which is not installed (it is not in millrace's "
            "lock: QLoRA is untested here); `pip install bitsandbytes`, or use lora"
        )
    if strategy == "prompt_tuning" and packing:
        raise MillraceError(
            "data.text.packing: true with model.strategy prompt_tuning: peft drops the position ids that keep "
            "packed examples apart, so they would attend to each other; set data.text.packing: false"
        )


def apply(
    model: nn.Module,
    strategy: str,
    *,
    lora_settings: LoraSettings = LoraSettings(),
    freeze_layers: str | None = None,
    virtual_tokens: int = 20,
) -> nn.Module:
    """The model made ready to train under `strategy` (call `refuse` first)."""
    if strategy == "full":
        return model.requires_grad_(True)
    if strategy == "qlora":
        if not getattr(model, "is_loaded_in_4bit", False):
            raise MillraceError(
                "model.strategy: qlora needs the base loaded in 4 bits (base.load_model(four_bit=True))"
            )
        from peft import prepare_model_for_kbit_training

        return lora(prepare_model_for_kbit_training(model), lora_settings)
    if strategy == "lora":
        return lora(model, lora_settings)
    if strategy == "prompt_tuning":
        return prompt_tuning(model, virtual_tokens)
    if strategy == "freeze":
        return freeze(model, freeze_layers)
    if strategy == "gradual_unfreeze":
        return start_gradual(model)
    raise MillraceError(f"model.strategy: {strategy!r}; a language model takes {', '.join(STRATEGIES)}")
