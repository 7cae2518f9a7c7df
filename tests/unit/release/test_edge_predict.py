"""The edge loader's WordPiece tokeniser (plain Python, no `tokenizers`) against the `tokenizers` package."""

import json
import random

import numpy as np
import pandas as pd
import pytest

from millrace.inputs.texts import charmap, fit
from millrace.release.edge_predict import WordPiece

HANDWRITTEN = [
    "Hello, World!",
    "",
    "   ",
    "Café déjà vu — naïve façade, ÅNGSTRÖM",
    "ΟΔΟΣ Σίσυφος",  # a final sigma: lowercased a character at a time, as the library does
    "İstanbul ǅ ß ﬁ Ωmega ㈱ ①",
    "北京欢迎你 and 東京 豈",  # CJK ideographs are words of their own; a compatibility one decomposes
    "emoji 😀👍🏽 test",
    "tab\there\nnew\rline\x0bvt\x0cff\x85nel\u00a0nbsp\u2028ls\u3000ideo",
    "zero\u200bwidth\u200djoiner\ufeffbom\x00nul\ufffdrep",
    "a" * 150,  # a word over 100 characters is one unknown token
    "supercalifragilisticexpialidocious antidisestablishmentarianism",
    "[CLS] inside [MASK] text [SEP][PAD] x[UNK]y",  # special tokens are found in the raw text
    "don't stop-believing... $100+50% <tag> a|b ^_^ `code` ~tilde",
    "word " * 100,  # truncated to max_length
    "\u0301leading combining x\u0308y \u061d\u0e7f",  # a mark alone; code points Unicode versions disagree on
]
# Blocks from every script and plane, combining marks and controls included.
BLOCKS = [(32, 127), (0, 32), (0xA0, 0x250), (0x300, 0x370), (0x370, 0x400), (0x600, 0x700), (0x900, 0xA00)]
BLOCKS += [(0xE00, 0xE80), (0x1100, 0x1200), (0x1AB0, 0x1B00), (0x1DC0, 0x1E00), (0x2000, 0x2070), (0x20D0, 0x2100)]
BLOCKS += [(0x4E00, 0x4E80), (0xAC00, 0xAC80), (0xF900, 0xF980), (0xFF00, 0xFF60), (0x1F600, 0x1F650)]
BLOCKS += [(0xE000, 0xE010), (0x10000, 0x110000)]


@pytest.fixture(scope="module")
def tokenisers():
    plan = fit("text", 64)
    table = json.loads(json.dumps(charmap(plan.tokenizer_json), ensure_ascii=False))  # as the device reads it
    return plan, WordPiece(json.loads(plan.tokenizer_json), table, 64)


def random_texts(count: int) -> list[str]:
    rng = random.Random(0)
    texts = []
    for _ in range(count):
        codes = (rng.randrange(*rng.choice(BLOCKS)) for _ in range(rng.randint(0, 40)))
        texts.append("".join(chr(c) for c in codes if not 0xD800 <= c <= 0xDFFF))
    return texts


def test_the_edge_tokeniser_gives_the_libraries_ids_and_mask_on_any_text(tokenisers):
    plan, edge = tokenisers
    texts = HANDWRITTEN + random_texts(20_000)
    for start in range(0, len(texts), 64):
        batch = texts[start : start + 64]
        library, ours = plan.encode(pd.DataFrame({"text": batch})), edge.encode(batch)
        for name in ("input_ids", "attention_mask"):
            if not np.array_equal(library[name], ours[name]):
                row = next(i for i in range(len(batch)) if not np.array_equal(library[name][i], ours[name][i]))
                pytest.fail(f"{name} differ on {batch[row]!r}: {library[name][row]} vs {ours[name][row]}")
    assert edge.encode(["word " * 100])["input_ids"].shape == (1, 64)
    assert edge.encode(["[MASK]"])["input_ids"].tolist() == [[101, 103, 102]]


def test_a_tokenizer_of_another_kind_is_refused(tokenisers):
    plan, edge = tokenisers
    spec = json.loads(plan.tokenizer_json)
    spec["normalizer"] = {"type": "NFKC"}
    with pytest.raises(ValueError, match="only a BERT WordPiece tokenizer.*'NFKC'"):
        WordPiece(spec, {"mapped": {}, "dropped": [], "punctuation": "", "whitespace": " "}, 64)


def test_a_tokenizer_without_a_normaliser_is_refused_before_the_library_is_asked_anything(tokenisers):
    from millrace.release.edge_predict import check_runnable

    spec = json.loads(tokenisers[0].tokenizer_json) | {"normalizer": None}
    with pytest.raises(ValueError, match="only a BERT WordPiece tokenizer.*None"):
        check_runnable(spec)
