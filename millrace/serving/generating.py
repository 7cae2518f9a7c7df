"""One answer being generated: the decoding loop on a thread of its own, its text handed to the event loop as it
becomes final, and the loop stopped between two tokens when the answer is complete or nobody waits for it.

The generation slot is freed by the generating thread itself when it has stopped, not when the request ends:
a client that goes away frees its slot once its generation has really stopped, never before.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

from millrace.serving.language_bundle import LanguageBundle, Sampling
from millrace.serving.slots import Slots
from millrace.serving.text_stream import TextStream

DONE = object()


@dataclass
class Answer:
    """What one generation made, filled in as it goes."""

    prompt_tokens: int
    completion_tokens: int = 0
    finish_reason: str | None = None  # "stop" (end of sequence or a stop sequence) or "length"
    text: str = ""
    started: float = field(default_factory=time.perf_counter)
    first_token_seconds: float | None = None
    cancelled: threading.Event = field(default_factory=threading.Event)
    counted: Callable[[], None] = lambda: None  # told of each token as it arrives (the server's token counter)
    stopped: asyncio.Event = field(default_factory=asyncio.Event)  # the generating thread has ended


def start(
    bundle: LanguageBundle, prompt: list[int], sampling: Sampling, stops: list[str], slots: Slots, answer: Answer
) -> AsyncIterator[str]:
    """Start generating now, on a thread of its own; return the answer's text, in pieces as they become
    final (`answer` says how it ended). The caller holds a slot (`slots.acquire()`), which is freed once the
    generation has stopped: at its end, or when `answer.cancelled` is set."""
    loop = asyncio.get_running_loop()
    made: asyncio.Queue = asyncio.Queue()

    def produce() -> None:
        try:
            for token in bundle.tokens(prompt, sampling, answer.cancelled):
                loop.call_soon_threadsafe(made.put_nowait, token)
            loop.call_soon_threadsafe(made.put_nowait, DONE)
        except BaseException as exc:  # handed to the request, which answers 500 and logs it
            loop.call_soon_threadsafe(made.put_nowait, exc)
        finally:
            loop.call_soon_threadsafe(ended)

    def ended() -> None:
        slots.release()
        answer.stopped.set()

    try:
        threading.Thread(target=produce, name="generate", daemon=True).start()
    except BaseException:
        ended()
        raise
    return _pieces(bundle, made, TextStream(bundle.decode, stops), answer)


async def _pieces(bundle: LanguageBundle, made: asyncio.Queue, text: TextStream, answer: Answer) -> AsyncIterator[str]:
    try:
        while (item := await made.get()) is not DONE:
            if isinstance(item, BaseException):
                raise item
            answer.completion_tokens += 1
            answer.counted()
            if answer.first_token_seconds is None:
                answer.first_token_seconds = time.perf_counter() - answer.started
            if item in bundle.end_ids:
                answer.finish_reason = "stop"
                continue
            piece = text.push(item)
            if piece:
                answer.text += piece
                yield piece
            if text.stopped:
                answer.finish_reason = "stop"
                break
        rest = text.finish()
        if rest:
            answer.text += rest
            yield rest
        if answer.finish_reason is None:
            answer.finish_reason = "length"
        answer.cancelled.set()
        await answer.stopped.wait()  # the slot is free before the answer is complete: a next request finds it
    finally:  # finished, failed, or the client went away: the thread stops before its next token
        answer.cancelled.set()
