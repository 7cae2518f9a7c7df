"""Instruction and corpus tables as examples: the four shapes users bring, found by their columns, mapped when
their names differ, list cells as lists, arrays or JSON, and every unreadable row counted in one error."""

import json

import numpy as np
import pandas as pd
import pytest

from millrace.errors import MillraceError
from millrace.language import records

CHAT = [{"role": "user", "content": "Capital of France?"}, {"role": "assistant", "content": "Paris"}]


def test_alpaca_rows_with_and_without_input_and_a_system_column():
    frame = pd.DataFrame(
        {
            "instruction": ["Translate to French.", "Say hi."],
            "input": ["cat", None],
            "output": ["chat", "hi"],
            "system": [None, "Be brief."],
        }
    )
    assert records.detect(frame, {}) == "alpaca"
    first, second = records.examples(frame, "auto", {})
    assert first == [
        {"role": "user", "content": "Translate to French.\n\ncat"},
        {"role": "assistant", "content": "chat"},
    ]
    assert second[0] == {"role": "system", "content": "Be brief."} and second[1]["content"] == "Say hi."


def test_openai_messages_as_lists_numpy_arrays_and_json_strings():
    frame = pd.DataFrame({"messages": [CHAT, np.array(CHAT, dtype=object), json.dumps(CHAT)]})
    assert records.detect(frame, {}) == "messages"
    assert records.examples(frame, "auto", {}) == [CHAT, CHAT, CHAT]


def test_sharegpt_speakers_become_roles_also_under_a_messages_column():
    turns = [
        {"from": "system", "value": "Be brief."},
        {"from": "human", "value": "Hi?"},
        {"from": "gpt", "value": "Hi."},
    ]
    expected = [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi?"},
        {"role": "assistant", "content": "Hi."},
    ]
    assert records.examples(pd.DataFrame({"conversations": [turns]}), "auto", {}) == [expected]
    assert records.detect(pd.DataFrame({"messages": [turns]}), {"messages": "messages"}) == "sharegpt"


def test_a_column_mapping_reads_a_variant():
    frame = pd.DataFrame(
        {"dialog": [[{"speaker": "customer", "text": "Refund?"}, {"speaker": "agent", "text": "Done."}]]}
    )
    columns = {"messages": "dialog", "role": "speaker", "content": "text", "user": "customer", "assistant": "agent"}
    assert records.examples(frame, "messages", columns) == [
        [{"role": "user", "content": "Refund?"}, {"role": "assistant", "content": "Done."}]
    ]
    qa = pd.DataFrame({"question": ["2+2?"], "answer": ["4"]})
    assert records.detect(qa, {"instruction": "question", "output": "answer"}) == "alpaca"
    assert records.examples(qa, "auto", {"instruction": "question", "output": "answer"})[0][1]["content"] == "4"


def test_text_rows_for_pretraining():
    assert records.examples(pd.DataFrame({"text": ["one", "two"]}), "auto", {}) == ["one", "two"]


def test_an_unknown_shape_names_the_columns_and_the_keys():
    with pytest.raises(MillraceError, match=r"data.text.format: auto found no known shape in the columns \['q', 'a'\]"):
        records.detect(pd.DataFrame({"q": ["x"], "a": ["y"]}), {})
    with pytest.raises(MillraceError, match=r"reads the column 'output'.*\{output: <your column>\}"):
        records.examples(pd.DataFrame({"instruction": ["x"]}), "alpaca", {})
    with pytest.raises(MillraceError, match="data.text.columns: 'prompt' is not a name of the alpaca format"):
        records.examples(pd.DataFrame({"instruction": ["x"], "output": ["y"]}), "alpaca", {"prompt": "x"})


def test_every_unreadable_row_is_counted_in_one_error():
    frame = pd.DataFrame(
        {
            "messages": [
                CHAT,
                "not json",
                [{"role": "user"}],
                [{"role": "bot", "content": "x"}],
                CHAT,
                "[1, 2",
            ]
        }
    )
    with pytest.raises(MillraceError) as raised:
        records.examples(frame, "messages", {})
    said = str(raised.value)
    assert said.startswith("4 of 6 rows are not messages examples: row 2: messages is not a list of turns")
    assert "row 3: turn 1 has no 'role' and 'content'" in said
    assert "row 4: turn 1: speaker 'bot' is none of" in said and "and 1 more" in said
