"""A table's rows as language-model examples: chat messages for fine-tuning, or plain text for pretraining.

Four shapes are read, as the tools users come from write them:
- `alpaca`: `instruction`, optional `input`, `output` and `system` columns;
- `messages` (OpenAI): a `messages` column holding a list of `{role, content}`;
- `sharegpt`: a `conversations` column holding a list of `{from, value}` with `human`/`gpt`/`system` speakers;
- `text`: a `text` column, for continued pretraining.

`columns` maps these canonical names to a dataset's own (as LLaMA-Factory's dataset_info does), e.g.
`{instruction: question, output: answer}` or `{messages: dialog, role: speaker, content: text, user: customer,
assistant: agent}`. A list cell may arrive as a list, a numpy array (Parquet) or a JSON string (CSV).
Every row that cannot be read is counted and shown (the first few) in one error: nothing is skipped silently.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import pandas as pd

from millrace.errors import MillraceError
from millrace.language.chat import from_alpaca

FORMATS = ("alpaca", "messages", "sharegpt", "text")
CANONICAL = {
    "alpaca": {"instruction": "instruction", "input": "input", "output": "output", "system": "system"},
    "messages": {"messages": "messages", "role": "role", "content": "content", "user": "user",
                 "assistant": "assistant", "system": "system"},
    "sharegpt": {"messages": "conversations", "role": "from", "content": "value", "user": "human",
                 "assistant": "gpt", "system": "system"},
    "text": {"text": "text"},
}  # fmt: skip
REQUIRED = {
    "alpaca": ("instruction", "output"),
    "messages": ("messages",),
    "sharegpt": ("messages",),
    "text": ("text",),
}
SHOWN = 3  # bad rows quoted in an error; the count says how many there are


def mapping(shape: str, columns: dict[str, str]) -> dict[str, str]:
    """The shape's canonical names mapped to this dataset's: the defaults with `columns` over them."""
    unknown = sorted(set(columns) - set(CANONICAL[shape]))
    if unknown:
        raise MillraceError(
            f"data.text.columns: {unknown[0]!r} is not a name of the {shape} format; it maps "
            f"{', '.join(CANONICAL[shape])} to your columns"
        )
    return CANONICAL[shape] | columns


def detect(frame: pd.DataFrame, columns: dict[str, str]) -> str:
    """The shape a table is in: the first format whose required columns (after `columns`) it has."""
    for shape in ("messages", "sharegpt", "alpaca", "text"):
        named = CANONICAL[shape] | {k: v for k, v in columns.items() if k in CANONICAL[shape]}
        if all(named[key] in frame.columns for key in REQUIRED[shape]):
            if shape == "messages" and _speaker_key(frame[named["messages"]]) == "from":
                continue  # a `messages` column of ShareGPT turns
            return shape
    raise MillraceError(
        f"data.text.format: auto found no known shape in the columns {list(frame.columns)}: alpaca needs "
        "instruction and output, messages a messages column, sharegpt a conversations column, text a text column; "
        "set data.text.format, and data.text.columns to map your column names (e.g. {output: answer})"
    )


def _speaker_key(cells: pd.Series) -> str | None:
    for cell in cells.head(20):
        turns = _turns(cell)
        if turns and isinstance(turns[0], dict):
            return "from" if "from" in turns[0] else "role"
    return None


def _turns(cell: Any) -> list[Any] | None:
    if isinstance(cell, str):
        try:
            cell = json.loads(cell)
        except json.JSONDecodeError:
            return None
    if hasattr(cell, "tolist") and not isinstance(cell, dict):
        cell = cell.tolist()
    return list(cell) if isinstance(cell, list | tuple) else None


def _chat(cell: Any, names: dict[str, str]) -> list[dict[str, str]]:
    turns = _turns(cell)
    if turns is None:
        raise ValueError(f"{names['messages']} is not a list of turns")
    roles = {names["user"]: "user", names["assistant"]: "assistant", names["system"]: "system"}
    roles |= {role: role for role in ("user", "assistant", "system")}
    messages = []
    for i, turn in enumerate(turns):
        if not isinstance(turn, dict) or names["role"] not in turn or names["content"] not in turn:
            raise ValueError(f"turn {i + 1} has no {names['role']!r} and {names['content']!r}")
        speaker = turn[names["role"]]
        if speaker not in roles:
            raise ValueError(
                f"turn {i + 1}: speaker {speaker!r} is none of {sorted(roles)} (data.text.columns maps user, "
                "assistant and system to yours)"
            )
        content = turn[names["content"]]
        messages.append({"role": roles[speaker], "content": "" if content is None else str(content)})
    return messages


def _alpaca(row: dict[str, Any], names: dict[str, str]) -> list[dict[str, str]]:
    record = {key: row.get(names[key]) for key in ("instruction", "input", "output")}
    record = {key: None if _missing(value) else value for key, value in record.items()}
    messages = from_alpaca(record)
    system = row.get(names["system"])
    if not _missing(system) and str(system).strip():
        messages.insert(0, {"role": "system", "content": str(system)})
    return messages


def _missing(value: Any) -> bool:
    return value is None or (isinstance(value, float) and value != value)


def examples(frame: pd.DataFrame, shape: str, columns: dict[str, str]) -> list[Any]:
    """One example per row: a list of messages (chat shapes) or a string (text); every unreadable row in one
    error naming its row number (1 = the first data row) and what is wrong."""
    shape = detect(frame, columns) if shape == "auto" else shape
    names = mapping(shape, columns)
    missing = [names[key] for key in REQUIRED[shape] if names[key] not in frame.columns]
    if missing:
        raise MillraceError(
            f"data.text.columns: the {shape} format reads the column {missing[0]!r}, which the table does not have "
            f"(its columns: {list(frame.columns)}); map it, e.g. {{{_key_of(names, missing[0])}: <your column>}}"
        )
    read, bad = [], []
    for number, row in enumerate(_rows(frame), start=1):
        try:
            if shape == "text":
                text = row[names["text"]]
                if _missing(text):
                    raise ValueError(f"{names['text']} is empty")
                read.append(str(text))
            elif shape == "alpaca":
                read.append(_alpaca(row, names))
            else:
                read.append(_chat(row[names["messages"]], names))
        except ValueError as why:
            bad.append(f"row {number}: {why}")
    if bad:
        shown = "; ".join(bad[:SHOWN]) + (f"; and {len(bad) - SHOWN} more" if len(bad) > SHOWN else "")
        raise MillraceError(f"{len(bad)} of {len(frame)} rows are not {shape} examples: {shown}")
    return read


def _key_of(names: dict[str, str], column: str) -> str:
    return next(key for key, value in names.items() if value == column)


def _rows(frame: pd.DataFrame) -> Iterable[dict[str, Any]]:
    return frame.to_dict("records")
