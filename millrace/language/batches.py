"""Tokenised examples as a padded batch: ids padded with the pad token, labels with IGNORE, an attention mask.

The pad id is never what tells padding apart: SmolLM2's pad token is its end-of-turn token, which the answers
end with and must be learned. The attention mask and the labels say where padding is.
"""

from __future__ import annotations

import torch

from millrace.language.chat import IGNORE, Tokenised


def padded(rows: list[list[int]], fill: int) -> torch.Tensor:
    """The rows as one tensor, each right-padded with `fill` to the longest."""
    width = max(len(row) for row in rows)
    return torch.tensor([row + [fill] * (width - len(row)) for row in rows], dtype=torch.long)


def collate(examples: list[Tokenised], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-padded `input_ids`, `attention_mask` and `labels` for a causal LM."""
    return {
        "input_ids": padded([example.input_ids for example in examples], pad_id),
        "attention_mask": padded([[1] * len(example.input_ids) for example in examples], 0),
        "labels": padded([example.labels for example in examples], IGNORE),
    }


def learned_tokens(batch: dict[str, torch.Tensor]) -> torch.Tensor:
    """How many tokens of the batch the loss learns (a token's label is predicted from the position before)."""
    return (batch["labels"][:, 1:] != IGNORE).sum()
