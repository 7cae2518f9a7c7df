"""A language model's examples through acquire, clean and label: one canonical table, cleaned, split.

The canonical table has, for fine-tuning (`sft`), `messages` (the example's chat as JSON), `prompt` (what the
model is given: every message but the last answer) and `answer` (the last assistant message); for continued
pretraining, `text`. Clean normalises the texts as `clean.text` says, checks each example's turns (an optional
system message, user and assistant alternating, ending with the assistant's answer; nothing empty) and
quarantines exact repeats; a corpus is cleaned by millrace/language/corpus.py. Label splits by a seeded hash of
the prompt's group: prompts at least `gates.text.near_duplicate_threshold` similar are one group (transitively),
so a prompt and its near repeat never sit on both sides of the split.
"""

from __future__ import annotations

import json
from typing import Any

import pandas as pd

from millrace.config.params import Clean, Split
from millrace.errors import MillraceError
from millrace.inputs.table_transform import TEXT_OPERATIONS
from millrace.labelling.splits import split_rows
from millrace.language import chat, records
from millrace.language.corpus import CorpusRules, clean
from millrace.language.near_duplicates import across, groups
from millrace.quality.cleaning import text_operation_names

SFT_COLUMNS = ["messages", "prompt", "answer"]


def canonical(frame: pd.DataFrame, task: str, shape: str, columns: dict[str, str]) -> pd.DataFrame:
    """The source's rows as the canonical table (records.examples names every row it cannot read)."""
    if task == "pretraining":
        shape = "text" if shape == "auto" else shape
        if shape != "text":
            raise MillraceError(f"data.text.format: {shape}; continued pretraining reads a text column (format text)")
        return pd.DataFrame({"text": records.examples(frame, "text", columns)})
    if shape == "text" or (shape == "auto" and records.detect(frame, columns) == "text"):
        raise MillraceError(
            "data.task: sft needs instruction or chat examples (alpaca, messages or sharegpt), and the source has "
            "only a text column; for plain text use data.task: pretraining"
        )
    return from_messages(records.examples(frame, shape, columns))


def from_messages(examples: list[list[dict[str, str]]]) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "messages": [json.dumps(messages, ensure_ascii=False) for messages in examples],
            "prompt": [prompt_of(messages) for messages in examples],
            "answer": [messages[-1]["content"] if messages else "" for messages in examples],
        },
        columns=SFT_COLUMNS,
    )


def prompt_of(messages: list[dict[str, str]]) -> str:
    """What the model is given for the last answer: every message before it, as role-marked lines."""
    return "\n".join(f"{m['role']}: {m['content']}" for m in messages[:-1])


def messages_of(frame: pd.DataFrame) -> list[list[dict[str, str]]]:
    return [json.loads(cell) for cell in frame["messages"]]


def _normalised(text: str, operations: list[str]) -> str:
    for name in operations:
        text = TEXT_OPERATIONS[name](text)
    return text


def turn_problems(frame: pd.DataFrame) -> pd.DataFrame:
    """One row per example: its number and what breaks the turn rules (None when nothing does)."""
    problems = []
    for number, messages in enumerate(messages_of(frame), start=1):
        try:
            chat.check(messages, f"example {number}")
            problems.append(None)
        except MillraceError as why:
            problems.append(str(why))
    return pd.DataFrame({"example": range(1, len(frame) + 1), "problem": pd.Series(problems, dtype=object)})


def clean_sft(raw: pd.DataFrame, params: Clean) -> tuple[pd.DataFrame, dict[str, Any], pd.DataFrame]:
    """Normalised texts, exact repeats quarantined (clean.drop_duplicates); the turn rules are the gate's."""
    operations = [name for name in text_operation_names(params) if name != "lowercased"]
    changed = 0
    examples = []
    for messages in messages_of(raw):
        cleaned = [m | {"content": _normalised(m["content"], operations)} for m in messages]
        changed += cleaned != messages
        examples.append(cleaned)
    frame = from_messages(examples)
    repeated = frame.duplicated("messages") if params.drop_duplicates else pd.Series(False, index=frame.index)
    quarantine = frame[repeated].assign(_step="duplicates", _reason="an exact repeat of an earlier example")
    report = {
        "rows_in": len(raw),
        "text": {"examples_changed": int(changed), "operations": operations},
        "duplicates": {"rows": int(repeated.sum())},
        "rows_out": int((~repeated).sum()),
        "rows_quarantined": int(repeated.sum()),
    }
    return frame[~repeated].reset_index(drop=True), report, quarantine.reset_index(drop=True)


def clean_corpus(raw: pd.DataFrame, rules: CorpusRules) -> tuple[pd.DataFrame, dict[str, Any], pd.DataFrame]:
    result = clean(raw["text"].astype(str).tolist(), rules)
    quarantine = pd.DataFrame(result.quarantine, columns=["row", "reason", "text"])
    report = {
        "rows_in": len(raw),
        "removed": result.counts(),
        "scrubbed": result.scrubbed,
        "rows_out": len(result.kept),
        "rows_quarantined": len(quarantine),
    }
    return pd.DataFrame({"text": result.kept}), report, quarantine.rename(columns={"reason": "_reason"})


def group_text(frame: pd.DataFrame) -> pd.Series:
    return frame["prompt"] if "prompt" in frame.columns else frame["text"]


def split(frame: pd.DataFrame, shares: Split, seed: int, threshold: float) -> dict[str, pd.DataFrame]:
    """train, val and test by a seeded hash of each example's group: the prompts (a corpus: the texts) joined
    wherever two are at least `threshold` similar, named by the group's first prompt."""
    texts = group_text(frame).tolist()
    keys = pd.Series([texts[first] for first in groups(texts, threshold)], name="group")
    return split_rows(frame, shares, seed, key=keys)


def crossing(splits: dict[str, pd.DataFrame], threshold: float) -> pd.DataFrame:
    """Every validation or test example whose prompt repeats a training prompt (exactly, normalised or nearly)."""
    train = group_text(splits["train"]).tolist()
    found = []
    for name in ("val", "test"):
        for i, j, exact in across(train, group_text(splits[name]).tolist(), threshold):
            found.append({"split": name, "example": i + 1, "train_example": j + 1, "exact": exact})
    return pd.DataFrame(found, columns=["split", "example", "train_example", "exact"])
