"""Tokenised examples as a padded batch: ids padded with the pad token, labels with IGNORE, an attention mask.

The pad id is never what tells padding apart: SmolLM2's pad token is its end-of-turn token, which the answers
end with and must be learned. The attention mask and the labels say where padding is.
"""

from __future__ import annotations

import torch

from millrace.language.chat import IGNORE, Tokenised


def collate(examples: list[Tokenised], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded `input_ids`, `attention_mask` and `labels` for a causal LM."""
    width = max(len(example.input_ids) for example in examples)
    ids = torch.full((len(examples), width), pad_id, dtype=torch.long)
    labels = torch.full((len(examples), width), IGNORE, dtype=torch.long)
    mask = torch.zeros((len(examples), width), dtype=torch.long)
    for row, example in enumerate(examples):
        length = len(example.input_ids)
        ids[row, :length] = torch.tensor(example.input_ids)
        labels[row, :length] = torch.tensor(example.labels)
        mask[row, :length] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


def learned_tokens(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """How many tokens of the batch the loss learns (a token's label is predicted from the position before)."""
    return (batch["labels"][:, 1:] != IGNORE).sum()
