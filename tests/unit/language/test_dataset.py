"""A language model's examples through acquire, clean and label: the canonical table, cleaning that counts what it
removes, the turn rules found for every example at once, and a split that keeps near-repeated prompts on one side
(the check that would catch it otherwise finds pairs on a split by exact prompt)."""

import json

import pandas as pd
import pytest

from millrace.config.params import Clean, Split
from millrace.errors import MillraceError
from millrace.labelling.splits import split_rows
from millrace.language import dataset
from millrace.language.corpus import CorpusRules


def test_the_canonical_table_of_each_task():
    alpaca = pd.DataFrame({"instruction": ["Say hi."], "output": ["hi"]})
    frame = dataset.canonical(alpaca, "sft", "auto", {})
    assert list(frame.columns) == ["messages", "prompt", "answer"]
    assert json.loads(frame["messages"][0])[1] == {"role": "assistant", "content": "hi"}
    assert frame["prompt"][0] == "user: Say hi." and frame["answer"][0] == "hi"
    corpus = dataset.canonical(pd.DataFrame({"body": ["a text"]}), "pretraining", "auto", {"text": "body"})
    assert corpus.to_dict("list") == {"text": ["a text"]}
    with pytest.raises(MillraceError, match="only a text column; for plain text use data.task: pretraining"):
        dataset.canonical(pd.DataFrame({"text": ["x"]}), "sft", "auto", {})
    with pytest.raises(MillraceError, match="continued pretraining reads a text column"):
        dataset.canonical(alpaca, "pretraining", "alpaca", {})


def test_cleaning_normalises_texts_and_quarantines_exact_repeats():
    chats = [
        [{"role": "user", "content": "Say\x00 hi."}, {"role": "assistant", "content": "hi"}],
        [{"role": "user", "content": "Say hi."}, {"role": "assistant", "content": "hi"}],
        [{"role": "user", "content": "Say bye."}, {"role": "assistant", "content": "bye"}],
    ]
    frame, report, quarantine = dataset.clean_sft(dataset.from_messages(chats), Clean())
    assert frame["prompt"].tolist() == ["user: Say hi.", "user: Say bye."]
    assert report["text"]["examples_changed"] == 1 and report["duplicates"] == {"rows": 1}
    assert report["rows_in"] == report["rows_out"] + report["rows_quarantined"] == 3
    assert quarantine["_reason"].tolist() == ["an exact repeat of an earlier example"]
    corpus, counted, removed = dataset.clean_corpus(
        pd.DataFrame({"text": ["short", "x" * 5 + " words " * 5]}), CorpusRules()
    )
    assert len(corpus) == 1 and counted["removed"] == {"shorter than 20 characters": 1} and len(removed) == 1


def test_every_example_breaking_the_turn_rules_is_named():
    chats = [
        [{"role": "user", "content": "a"}, {"role": "assistant", "content": "b"}],
        [{"role": "assistant", "content": "b"}],
        [{"role": "user", "content": "a"}, {"role": "assistant", "content": ""}],
    ]
    problems = dataset.turn_problems(dataset.from_messages(chats))
    assert problems["problem"][0] is None
    assert problems["problem"][1].startswith("example 2: roles assistant;")
    assert problems["problem"][2] == "example 3: message 2 (assistant) is empty"


PROMPTS = [
    "Summarise the history of the old stone bridge in Avignon",
    "Which vegetables grow well in a cold and shady garden",
    "Write a short poem about the first snow of winter",
    "How do I convert a recipe from cups to grams",
    "List three ways to keep a bicycle chain from rusting",
    "What did the Romans use to build their aqueducts",
    "Explain why the sky looks blue at noon and red at dusk",
    "Suggest a name for a bakery that opens before sunrise",
    "Translate good morning and thank you into Portuguese",
    "Why do cats knock things off tables for no reason",
    "Plan a two day walking route through the Lake District",
    "Describe how a lighthouse lamp was turned in 1900",
    "What is the difference between weather and climate",
    "Give me a packing list for a week of sailing",
    "How many bones are there in an adult human hand",
    "Recommend a board game for six players and one hour",
    "Explain compound interest with an example in euros",
    "Who painted the ceiling of the Sistine Chapel",
    "Draft a polite email asking to move a meeting",
    "What should a beginner know before keeping bees",
]


def test_near_repeated_prompts_stay_on_one_side_of_the_split():
    chats = []
    for prompt in PROMPTS:  # each prompt twice: as written, and with a word added
        for variant in (prompt, prompt + " please"):
            chats.append([{"role": "user", "content": variant + "?"}, {"role": "assistant", "content": "ok"}])
    frame = dataset.from_messages(chats)
    shares = Split(train=0.5, val=0.25, test=0.25)
    splits = dataset.split(frame, shares, seed=1, threshold=0.8)
    assert min(len(part) for part in splits.values()) >= 4  # twenty groups spread over the three splits
    assert all(len(part) % 2 == 0 for part in splits.values())  # pairs together
    assert dataset.crossing(splits, 0.8).empty
    by_exact_prompt = split_rows(frame, shares, 1, key=frame["prompt"])
    crossed = dataset.crossing(by_exact_prompt, 0.8)
    assert len(crossed) > 0 and not crossed["exact"].any()  # the gate's check finds what the grouping prevents
