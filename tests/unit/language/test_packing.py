"""Packing: rows filled best-fit without splitting an example, and no example attending to another in its row
(the logits of an example packed behind another equal its logits alone; packed naively with a full mask, they
would not), the loss of a packed batch the loss of its examples."""

import pytest
import torch

from millrace.language.chat import IGNORE, Tokenised
from millrace.language.packing import collate_packed, pack, text_windows
from tests.helpers.language import tiny_llama


def example(length: int, start: int) -> Tokenised:
    ids = [(start + i) % 60 + 2 for i in range(length)]
    return Tokenised(ids, [IGNORE] * (length // 2) + ids[length // 2 :], False)


@pytest.fixture(scope="module")
def llama():
    return tiny_llama(64, max_position_embeddings=64, attn_implementation="sdpa").eval()


def test_rows_are_filled_best_fit_with_whole_examples():
    lengths = [9, 1, 7, 3, 5, 4, 1]  # 30 tokens: best fit fills three rows of 10 exactly
    rows = pack([example(n, i * 8) for i, n in enumerate(lengths)], 10)
    assert [len(row.input_ids) for row in rows] == [10, 10, 10]
    assert [row.examples for row in rows] == [2, 2, 3]
    starts = [[row.input_ids[i] for i, p in enumerate(row.position_ids) if p == 0] for row in rows]
    assert starts == [[2, 10], [18, 26], [34, 42, 50]]  # 9+1, 7+3, 5+4+1
    for row in rows:  # each example's positions restart at 0
        assert row.position_ids.count(0) == row.examples
    with pytest.raises(ValueError, match="example 1 has 11 tokens, over max_length 10"):
        pack([example(11, 0)], 10)


def test_a_packed_example_sees_only_itself(llama):
    first, second = example(7, 0), example(5, 30)
    (row,) = pack([first, second], 16)
    batch = collate_packed([row], pad_id=0)
    assert batch["input_ids"].shape == (1, 12) and "attention_mask" not in batch
    with torch.no_grad():
        packed = llama(input_ids=batch["input_ids"], position_ids=batch["position_ids"], use_cache=False).logits[0]
        alone = {
            len(ex.input_ids): llama(input_ids=torch.tensor([ex.input_ids]), use_cache=False).logits[0]
            for ex in (first, second)
        }
        leaky = llama(input_ids=batch["input_ids"], attention_mask=torch.ones_like(batch["input_ids"])).logits[0]
    at = 0
    for size in (7, 5):
        assert torch.allclose(packed[at : at + size], alone[size], atol=1e-5)
        at += size
    assert not torch.allclose(leaky[7:], alone[5], atol=1e-3)  # the check can fail: a full mask leaks


def test_the_loss_of_a_packed_row_is_the_token_weighted_loss_of_its_examples(llama):
    first, second = example(8, 3), example(6, 40)
    batch = collate_packed(pack([first, second], 20), pad_id=0)
    batch["input_ids"] = torch.cat([batch["input_ids"], torch.zeros((1, 3), dtype=torch.long)], 1)  # padding
    batch["labels"] = torch.cat([batch["labels"], torch.full((1, 3), IGNORE)], 1)
    batch["position_ids"] = torch.cat([batch["position_ids"], torch.arange(3)[None]], 1)
    with torch.no_grad():
        packed = llama(**batch, use_cache=False).loss
        losses = [
            llama(input_ids=torch.tensor([ex.input_ids]), labels=torch.tensor([ex.labels])).loss
            for ex in (first, second)
        ]
    learned = [sum(label != IGNORE for label in ex.labels[1:]) for ex in (first, second)]
    expected = sum(loss * n for loss, n in zip(losses, learned, strict=True)) / sum(learned)
    assert torch.allclose(packed, expected, atol=1e-5)


def test_a_document_is_cut_into_windows_ending_with_eos():
    class Tokenizer:
        eos_token_id = 2

        def __call__(self, text, add_special_tokens):
            return {"input_ids": [ord(c) for c in text]}

    windows = text_windows(Tokenizer(), "abcdefg", 3)
    assert [w.input_ids for w in windows] == [[97, 98, 99], [100, 101, 102], [103, 2]]
    assert all(w.labels == w.input_ids for w in windows)
