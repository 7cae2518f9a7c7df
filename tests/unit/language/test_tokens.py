"""Tokens made once: every split written and read back as it was (packed rows too), the fingerprint changes with
the chat template or vocabulary, an answer that cannot be learned is a problem of its example (all of them
found), and a corpus is cut into windows."""

import pandas as pd
import pytest
from tokenizers import Tokenizer, models, pre_tokenizers
from transformers import PreTrainedTokenizerFast

from millrace.errors import MillraceError
from millrace.language import dataset, tokens

TEMPLATE = (
    "{% for m in messages %}<s>{{ m['role'] }} {{ m['content'] }} <eos> {% endfor %}"
    "{% if add_generation_prompt %}<s>assistant {% endif %}"
)


def word_tokenizer(extra: tuple[str, ...] = ()):
    words = ["<unk>", "<eos>", "<s>", "user", "assistant", "system", "Say", "hi", "bye", "Tell", "a", "long", *extra]
    core = Tokenizer(models.WordLevel({w: i for i, w in enumerate(words)}, unk_token="<unk>"))
    core.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=core, eos_token="<eos>", pad_token="<eos>", unk_token="<unk>")
    tokenizer.chat_template = TEMPLATE
    return tokenizer


def chats(*pairs):
    return dataset.from_messages(
        [[{"role": "user", "content": q}, {"role": "assistant", "content": a}] for q, a in pairs]
    )


def test_the_splits_are_written_and_read_back_with_packed_rows(tmp_path):
    tokenizer = word_tokenizer()
    frame = chats(("Say hi", "hi"), ("Say bye", "bye"), ("Say hi", "bye"))
    examples, problems = tokens.tokenise(tokenizer, frame, "sft", 32, "train")
    assert problems == [] and len(examples) == 3
    made_by = {"tokenizer": tokens.fingerprint(tokenizer), "max_length": 32, "task": "sft"}
    manifest = tokens.write(tmp_path / tokens.FOLDER, {"train": examples, "val": examples[:1]}, made_by, True)
    assert manifest["splits"]["train"]["learned_tokens"] == 6  # each answer's word and its <eos>
    assert manifest["splits"]["train"]["packed_rows"] == 1  # 3 × 9 tokens fit in 32
    assert tokens.read(tmp_path, "train") == examples
    (row,) = tokens.read(tmp_path, "train", packed=True)
    assert row.examples == 3 and row.input_ids == sum((e.input_ids for e in examples), [])
    tokens.check_fingerprint(tmp_path, tokenizer)


def test_the_fingerprint_follows_the_template_and_the_vocabulary(tmp_path):
    tokenizer = word_tokenizer()
    made_by = {"tokenizer": tokens.fingerprint(tokenizer), "max_length": 8, "task": "sft"}
    tokens.write(tmp_path / tokens.FOLDER, {"train": []}, made_by, False)
    other_template = word_tokenizer()
    other_template.chat_template = TEMPLATE.replace("<s>", "<s> ")
    for other in (other_template, word_tokenizer(extra=("new",))):
        assert tokens.fingerprint(other) != made_by["tokenizer"]
        with pytest.raises(MillraceError, match="made by another tokenizer or chat template"):
            tokens.check_fingerprint(tmp_path, other)


def test_every_unlearnable_answer_is_a_problem_of_its_example():
    tokenizer = word_tokenizer()
    long = " ".join(["long"] * 12)
    frame = chats(("Say hi", "hi"), (f"Tell a {long}", "hi"), (f"Tell {long}", "bye"))
    examples, problems = tokens.tokenise(tokenizer, frame, "sft", 10, "val")
    assert len(examples) == 1
    assert [(p["split"], p["example"]) for p in problems] == [("val", 2), ("val", 3)]
    assert "raise data.text.max_length" in problems[0]["problem"]


def test_a_corpus_is_cut_into_windows():
    tokenizer = word_tokenizer()
    windows, problems = tokens.tokenise(
        tokenizer, pd.DataFrame({"text": ["Say hi Say bye Say hi"]}), "pretraining", 4, "train"
    )
    assert problems == [] and [len(w.input_ids) for w in windows] == [4, 3]  # 6 words and <eos>
