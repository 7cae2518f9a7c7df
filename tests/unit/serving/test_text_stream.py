"""Generated text is released only once final: stop sequences end it (and are not part of it) wherever the
token boundaries fall, and a character split across tokens waits for its last byte."""

import pytest

from millrace.serving.text_stream import TextStream

PIECES = ["Hel", "lo", " wor", "ld", "! Bye", " now"]  # one token each


def decode(ids: list[int]) -> str:
    return "".join(PIECES[i] for i in ids)


def run(stops: list[str]) -> tuple[list[str], TextStream]:
    stream = TextStream(decode, stops)
    released = []
    for token in range(len(PIECES)):
        released.append(stream.push(token))
        if stream.stopped:
            break
    released.append(stream.finish())
    return released, stream


def test_without_stop_sequences_every_token_is_released_as_it_comes():
    released, stream = run([])
    assert released[:-1] == PIECES and not stream.stopped and stream.text == "".join(PIECES)


@pytest.mark.parametrize(
    ("stops", "answer"),
    [
        (["world"], "Hello "),
        (["lo w"], "Hel"),
        (["!"], "Hello world"),
        (["zzz", "d! B"], "Hello worl"),
        (["Hello"], ""),
    ],
)
def test_a_stop_sequence_across_token_boundaries_ends_the_answer_and_is_left_out(stops, answer):
    released, stream = run(stops)
    assert stream.stopped and "".join(released) == answer == stream.text
    assert not any(stop in piece for piece in released for stop in stops)


def test_text_that_could_begin_a_stop_sequence_is_held_until_it_cannot():
    stream = TextStream(decode, ["lo there"])
    assert stream.push(0) == "He"  # "l" could begin "lo there": held
    assert stream.push(1) == "l"  # "Hello": now "lo" could
    assert stream.push(2) == "lo wor"  # " wor" shows it was not
    assert not stream.stopped


def test_a_character_split_across_tokens_waits_for_its_last_byte():
    raw = "é".encode()  # two bytes, one token each
    stream = TextStream(lambda ids: bytes(raw[i] for i in ids).decode("utf-8", errors="replace"), [])
    assert stream.push(0) == ""
    assert stream.push(1) == "é"
