"""Generated tokens to text as it is made, with OpenAI's stop sequences.

Text is released only once it is final: a token that ends inside a multi-byte character waits for the next,
and text that could be the start of a stop sequence is held back until the following tokens show whether it
is one. A stop sequence ends the answer and is not part of it, wherever the token boundaries fall. The whole
answer is decoded again at each token (answers are hundreds of tokens, not thousands), so merges across
token boundaries come out as the tokenizer decodes them.
"""

from __future__ import annotations

from collections.abc import Callable

INCOMPLETE = "\ufffd"  # what decoding gives for the first bytes of a character split across tokens


class TextStream:
    def __init__(self, decode: Callable[[list[int]], str], stops: list[str]) -> None:
        self.decode, self.stops = decode, [s for s in stops if s]
        self.ids: list[int] = []
        self.text = ""  # the answer so far (up to a stop sequence, once one is found)
        self.sent = 0  # characters of `text` already released
        self.stopped = False  # a stop sequence was found: the answer is complete

    def push(self, token: int) -> str:
        """Add a token; return the text that is now final (possibly empty)."""
        if self.stopped:
            return ""
        self.ids.append(token)
        text = self.decode(self.ids)
        search_from = max(self.sent - max((len(s) for s in self.stops), default=0), 0)
        found = [i for i in (text.find(s, search_from) for s in self.stops) if i >= 0]
        if found:
            self.text, self.stopped = text[: min(found)], True
            return self._release(len(self.text))
        self.text = text
        if text.endswith(INCOMPLETE):
            return ""
        return self._release(len(text) - self._held(text))

    def finish(self) -> str:
        """Whatever was held back, once no token follows."""
        return self._release(len(self.text))

    def _held(self, text: str) -> int:
        """How many final characters could begin a stop sequence."""
        return max((n for s in self.stops for n in range(min(len(s) - 1, len(text)), 0, -1) if text.endswith(s[:n])),
                   default=0)  # fmt: skip

    def _release(self, upto: int) -> str:
        upto = max(upto, self.sent)
        new, self.sent = self.text[self.sent : upto], upto
        return new
