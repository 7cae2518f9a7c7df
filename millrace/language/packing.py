"""Sequence packing: several short examples in one row of `max_length` tokens, none attending to another.

Padding a batch of short answers to its longest example spends most of the compute on padding. Packing fills
each row with whole examples instead (best fit, longest first: deterministic, no example split). What keeps the
examples apart is their position ids: each starts again at 0, and with no attention mask given, transformers
(`masking_utils.find_packed_sequence_indices`, Llama, Mistral, Qwen and GPT-2 families) turns those restarts
into a block-diagonal causal mask. A model must therefore be called without `attention_mask` and without a
cache (`use_cache=False`); padding at a row's end is one more block of its own, its labels ignored.

Pretraining text is not one example per document: a document is its tokens and an end-of-sequence token, cut
into windows of `max_length`, every token learned.
"""

from __future__ import annotations

import bisect
from dataclasses import dataclass

import torch

from millrace.language.batches import padded
from millrace.language.chat import IGNORE, Tokenised


@dataclass(frozen=True)
class Packed:
    input_ids: list[int]
    labels: list[int]
    position_ids: list[int]  # restarting at 0 where each example starts
    examples: int


def pack(examples: list[Tokenised], max_length: int) -> list[Packed]:
    """The examples in rows of at most `max_length` tokens: best fit, longest first, ties in the given order."""
    order = sorted(range(len(examples)), key=lambda i: -len(examples[i].input_ids))
    rows: list[list[int]] = []
    free: list[tuple[int, int]] = []  # (room left, row), sorted: the tightest row that fits is found by bisect
    for i in order:
        length = len(examples[i].input_ids)
        if length > max_length:
            raise ValueError(f"example {i + 1} has {length} tokens, over max_length {max_length}")
        at = bisect.bisect_left(free, (length, -1))
        if at < len(free):
            room, row = free.pop(at)
        else:
            room, row = max_length, len(rows)
            rows.append([])
        rows[row].append(i)
        if room - length > 0:
            bisect.insort(free, (room - length, row))
    return [_joined([examples[i] for i in members]) for members in rows]


def _joined(members: list[Tokenised]) -> Packed:
    ids, labels, positions = [], [], []
    for example in members:
        ids += example.input_ids
        labels += [IGNORE] + example.labels[1:]  # the first token is predicted from the previous example's last
        positions += list(range(len(example.input_ids)))
    return Packed(ids, labels, positions, len(members))


def collate_packed(rows: list[Packed], pad_id: int) -> dict[str, torch.Tensor]:
    """`input_ids`, `labels` and `position_ids`, no attention mask: padding is a block of its own."""
    width = max(len(row.input_ids) for row in rows)
    positions = [row.position_ids + list(range(width - len(row.position_ids))) for row in rows]
    return {
        "input_ids": padded([row.input_ids for row in rows], pad_id),
        "labels": padded([row.labels for row in rows], IGNORE),
        "position_ids": padded(positions, 0),
    }


def text_windows(tokenizer, text: str, max_length: int) -> list[Tokenised]:
    """A document for pretraining: its tokens and end-of-sequence, in windows of `max_length`, all learned."""
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if tokenizer.eos_token_id is not None:
        ids = ids + [tokenizer.eos_token_id]
    windows = [ids[start : start + max_length] for start in range(0, len(ids), max_length)]
    return [Tokenised(window, list(window), False) for window in windows if len(window) > 1]
