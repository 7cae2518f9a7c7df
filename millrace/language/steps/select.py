"""select for a language model: the base, and with `model.strategy: auto` how much of it to train, said why.

auto trains every weight of a small base (under SMALL_BASE parameters) when full fine-tuning's memory (weights,
gradients and AdamW's two moments: 16 bytes a parameter) fits half of this machine's memory or its GPU's; else
LoRA. QLoRA needs CUDA; prompt tuning cannot be packed: both are refused here, before anything trains.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from millrace.config.params import Params
from millrace.files import write_json, write_text
from millrace.language import base, strategies, tokens
from millrace.models.selection import resources

SMALL_BASE = 50_000_000
FULL_BYTES_PER_PARAMETER = 16


def parameters(pretrained: base.Base) -> int:
    """The base's parameter count, from its config alone (the weights are not loaded)."""
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    config = AutoConfig.from_pretrained(pretrained.location, gguf_file=pretrained.gguf_file)
    with torch.device("meta"):
        model = AutoModelForCausalLM.from_config(config)
    return sum(p.numel() for p in model.parameters())


def choose(params: Params, count: int, found: dict[str, Any]) -> tuple[str, str]:
    if params.model.strategy != "auto":
        return params.model.strategy, f"model.strategy: {params.model.strategy} (set in params.yaml)"
    memory = found["gpu_memory_gb"] if found["accelerator"] == "cuda" else found["memory_gb"] / 2
    needed = count * FULL_BYTES_PER_PARAMETER / 2**30
    if count < SMALL_BASE and needed < memory:
        return "full", f"full: the base has {count:,} parameters, small enough to train all ({needed:.1f} GB)"
    if count >= SMALL_BASE:
        return "lora", f"lora: the base has {count:,} parameters, over the {SMALL_BASE:,} trained in full by default"
    return "lora", f"lora: training all {count:,} parameters needs about {needed:.1f} GB, over the {memory:.1f} GB here"


def main(params: Params) -> None:
    import torch

    pretrained = base.resolve(params.model.pretrained)
    made = tokens.manifest(Path(params.paths.label))
    count = parameters(pretrained)
    found = resources(params.train.accelerator)
    strategy, why = choose(params, count, found)
    strategies.refuse(strategy, cuda=torch.cuda.is_available(), packing=params.data.text.packing)
    selection = {
        "family": "causal_lm",
        "task": params.data.task,
        "pretrained": params.model.pretrained,
        "base": pretrained.description,
        "strategy": strategy,
        "total_params": count,
        "train_tokens": made["splits"]["train"]["tokens"],
        "reasons": [f"causal_lm on {pretrained.description}, {why}"],
    }
    write_json(params.paths.selection, selection)
    lines = [
        "# Model selection",
        "",
        f"- Task: {params.data.task} ({made['splits']['train']['examples']} training examples, "
        f"{made['splits']['train']['tokens']:,} tokens)",
        f"- Base: {pretrained.description}, {count:,} parameters",
        f"- Strategy: {why}",
        f"- Machine: {found['accelerator']}, {found['cpu_cores']} cores, {found['memory_gb']} GB"
        + (f", {found.get('gpu')} {found['gpu_memory_gb']} GB" if found["accelerator"] == "cuda" else ""),
        "",
    ]
    write_text(Path(params.paths.reports) / "selection.md", "\n".join(lines))
    print(f"select: {selection['reasons'][0]}")
