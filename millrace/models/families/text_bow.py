"""A bag of learned token embeddings: the masked mean of the tokens' vectors, dropout, a linear head.

Tiny (vocabulary × embedding parameters) and fast on a CPU; uses the same tokenizer as MiniLM, so
it can learn from a MiniLM teacher's soft targets (`model.distill`) and deploy small.
"""

from __future__ import annotations

from typing import Any

from torch import nn


class TextBagOfEmbeddings(nn.Module):
    def __init__(self, vocab_size: int, outputs: int, embedding: int, dropout: float) -> None:
        super().__init__()
        self.embed = nn.Embedding(vocab_size, embedding, padding_idx=0)
        self.head = nn.Sequential(nn.Dropout(dropout), nn.Linear(embedding, outputs))

    def forward(self, input_ids, attention_mask):
        mask = attention_mask.unsqueeze(-1).to(self.embed.weight.dtype)
        pooled = (self.embed(input_ids) * mask).sum(1) / mask.sum(1).clamp(min=1.0)
        return self.head(pooled)


def build(plan, outputs: int, spec: dict[str, Any]) -> TextBagOfEmbeddings:
    return TextBagOfEmbeddings(plan.vocab_size, outputs, spec["embedding"], spec["dropout"])
