"""LoRA adapters on a causal LM (peft): the base's weights frozen, low-rank updates on the attention
projections trained."""

from __future__ import annotations

LLAMA_ATTENTION = ["q_proj", "v_proj"]  # Llama, Mistral and Qwen name their attention projections so


def with_lora(model, r: int, alpha: int, dropout: float, target_modules: list[str] | None = None):
    """The model with LoRA adapters on `target_modules` (the Llama family's q and v projections by default)."""
    from peft import LoraConfig, TaskType, get_peft_model

    config = LoraConfig(
        task_type=TaskType.CAUSAL_LM,
        r=r,
        lora_alpha=alpha,
        lora_dropout=dropout,
        target_modules=target_modules or LLAMA_ATTENTION,
    )
    return get_peft_model(model, config)
