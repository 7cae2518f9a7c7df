"""Chat and alpaca examples as training tokens with SmolLM2's own tokenizer and template: only the assistant's
answers (through their end-of-turn token) are learned, never the prompt; bad examples are named; an answer cut
off entirely by max_length is an error, not a silent zero loss."""

import pytest

from millrace.errors import MillraceError
from millrace.language import base, chat


@pytest.fixture(scope="module")
def tokenizer():
    return base.load_tokenizer(base.resolve(base.SMOLLM2))


def learned_text(tokenizer, example: chat.Tokenised) -> str:
    return tokenizer.decode([label for label in example.labels if label != chat.IGNORE])


def test_only_the_assistants_answers_are_learned_across_turns(tokenizer):
    messages = [
        {"role": "system", "content": "Answer briefly."},
        {"role": "user", "content": "What is 2+2?"},
        {"role": "assistant", "content": "4"},
        {"role": "user", "content": "And 3+3?"},
        {"role": "assistant", "content": "Six, of course."},
    ]
    example = chat.tokenise(tokenizer, messages, 512, "example 1")
    assert learned_text(tokenizer, example) == "4<|im_end|>Six, of course.<|im_end|>"
    assert len(example.labels) == len(example.input_ids) and not example.truncated
    learned = [i for i, label in enumerate(example.labels) if label != chat.IGNORE]
    assert all(example.labels[i] == example.input_ids[i] for i in learned)
    pairs = zip(example.input_ids, example.labels, strict=True)
    prompt = tokenizer.decode([token for token, label in pairs if label == chat.IGNORE])
    assert "Answer briefly." in prompt and "What is 2+2?" in prompt and "<|im_start|>assistant" in prompt


def test_an_alpaca_record_is_a_user_turn_and_the_answer(tokenizer):
    record = {"instruction": "Translate to French.", "input": "cat", "output": "chat"}
    messages = chat.from_alpaca(record)
    assert messages == [
        {"role": "user", "content": "Translate to French.\n\ncat"},
        {"role": "assistant", "content": "chat"},
    ]
    assert chat.from_alpaca({"instruction": "Say hi.", "output": "hi"})[0]["content"] == "Say hi."
    assert learned_text(tokenizer, chat.tokenise(tokenizer, messages, 256, "row 3")) == "chat<|im_end|>"


@pytest.mark.parametrize(
    ("messages", "said"),
    [
        ([], "row 7: no messages"),
        ([{"role": "user", "content": "hi"}], "roles user; an example is an optional system message"),
        ([{"role": "user", "content": "a"}, {"role": "user", "content": "b"}], "roles user → user"),
        ([{"role": "assistant", "content": "a"}], "roles assistant;"),
        ([{"role": "human", "content": "a"}], "unknown role 'human'"),
        ([{"role": "user", "content": "a"}, {"role": "assistant", "content": "  "}], "message 2 (assistant) is empty"),
    ],
)
def test_examples_that_break_the_turn_rules_are_named(tokenizer, messages, said):
    with pytest.raises(MillraceError, match=said.replace("(", r"\(").replace(")", r"\)")):
        chat.tokenise(tokenizer, messages, 128, "row 7")


def test_an_answer_cut_off_by_max_length_is_an_error_and_a_partial_one_is_marked(tokenizer):
    long_prompt = [{"role": "user", "content": "word " * 200}, {"role": "assistant", "content": "done"}]
    with pytest.raises(
        MillraceError, match=r"row 2: the assistant's answer starts after token 64.*data.text.max_length"
    ):
        chat.tokenise(tokenizer, long_prompt, 64, "row 2")
    long_answer = [{"role": "user", "content": "Count."}, {"role": "assistant", "content": "one two " * 100}]
    cut = chat.tokenise(tokenizer, long_answer, 64, "row 3")
    assert cut.truncated and len(cut.input_ids) == 64 and any(label != chat.IGNORE for label in cut.labels)
