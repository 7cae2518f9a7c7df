"""The OpenAI API's shapes, as far as this server speaks it: the requests of `/v1/chat/completions` and
`/v1/completions`, their answers and stream chunks, and its error shape.

A field the server does not support is refused with a 400 naming it, never silently ignored: a client that
asks for two choices, tools, log probabilities or a JSON format and gets a plain answer would go wrong in ways
that are hard to see. Such a field at its neutral value (`n: 1`, `tools: []`, `logprobs: false`, a zero
penalty, `response_format: {"type": "text"}`) asks for nothing, and is accepted.
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Literal

from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

MAX_STOPS = 4
# Fields the server does not support, and the values of each that ask for nothing (OpenAI's defaults)
NEUTRAL: dict[str, tuple] = {
    "n": (1,), "best_of": (None, 1), "presence_penalty": (None, 0), "frequency_penalty": (None, 0),
    "logprobs": (None, False), "top_logprobs": (None, 0), "logit_bias": (None, {}), "echo": (None, False),
    "suffix": (None, ""), "response_format": (None, {"type": "text"}), "tools": (None, []),
    "tool_choice": (None, "none"), "functions": (None, []), "function_call": (None, "none"),
    "parallel_tool_calls": (None,),
}  # fmt: skip


def _same(value: Any, neutral: Any) -> bool:
    if isinstance(value, bool) or isinstance(neutral, bool):  # False == 0 in Python, not in the API
        return value is neutral
    return value == neutral


class Refused(Exception):
    """A request this server will not answer, in OpenAI's terms: status, message, param and code."""

    def __init__(self, status: int, message: str, param: str | None = None, code: str | None = None, **kind) -> None:
        super().__init__(message)
        self.status, self.message, self.param, self.code = status, message, param, code
        self.type = kind.get("type", "invalid_request_error")
        self.headers = kind.get("headers")

    def response(self) -> JSONResponse:
        body = {"error": {"message": self.message, "type": self.type, "param": self.param, "code": self.code}}
        return JSONResponse(body, status_code=self.status, headers=self.headers)


class ErrorDetail(BaseModel):
    message: str
    type: str
    param: str | None
    code: str | None


class ErrorAnswer(BaseModel):
    """Every refusal under /v1, as OpenAI's API gives it."""

    error: ErrorDetail


def _refusal(description: str) -> dict[str, Any]:
    return {"model": ErrorAnswer, "description": description}


GENERATION_RESPONSES: dict[int | str, dict[str, Any]] = {
    200: {"description": "the answer; with `stream: true`, a text/event-stream of chunks ending in `data: [DONE]`"},
    "4XX": _refusal(
        "400: a field the server does not support, a malformed body, or a prompt past the model's context; "
        "401: the bearer token is missing or wrong; 404: another model than the one served; 429: every generation "
        "slot is busy and the queue is full (see Retry-After)"
    ),
    503: _refusal("the model is not loaded yet (see Retry-After)"),
}


class StreamOptions(BaseModel):
    include_usage: bool = False


class Generating(BaseModel):
    """The fields both endpoints share."""

    model_config = ConfigDict(extra="allow")
    model: str
    max_tokens: int | None = Field(None, ge=1)
    temperature: float = Field(1.0, ge=0, le=2)
    top_p: float = Field(1.0, gt=0, le=1)
    stop: str | list[str] | None = None
    seed: int | None = None
    stream: bool = False
    stream_options: StreamOptions | None = None
    user: str | None = None  # who asked, for the client's own records: it changes nothing in the answer

    @field_validator("stop")
    @classmethod
    def _few_stops(cls, stop):
        if isinstance(stop, list) and len(stop) > MAX_STOPS:
            raise ValueError(f"at most {MAX_STOPS} stop sequences")
        return stop

    def stops(self) -> list[str]:
        return [self.stop] if isinstance(self.stop, str) else list(self.stop or [])

    def unsupported(self) -> None:
        """Refuse any field outside the ones above, unless it is at a value that asks for nothing."""
        for name, value in (self.model_extra or {}).items():
            if any(_same(value, neutral) for neutral in NEUTRAL.get(name, ())):
                continue
            raise Refused(400, f"`{name}` is not supported by this server", param=name, code="unsupported_parameter")
        if self.stream_options is not None and not self.stream:
            raise Refused(400, "`stream_options` is only allowed with `stream: true`", param="stream_options")


class TextPart(BaseModel):
    type: Literal["text"]
    text: str


class Message(BaseModel):
    role: Literal["system", "developer", "user", "assistant"]
    content: str | list[TextPart]
    name: str | None = None

    def plain(self) -> dict[str, str]:
        """The message as a chat template takes it (a developer message is a system message)."""
        text = self.content if isinstance(self.content, str) else "".join(p.text for p in self.content)
        return {"role": "system" if self.role == "developer" else self.role, "content": text}


class ChatRequest(Generating):
    messages: list[Message] = Field(min_length=1)
    max_completion_tokens: int | None = Field(None, ge=1)

    def limit(self) -> int | None:
        return self.max_completion_tokens if self.max_completion_tokens is not None else self.max_tokens


class CompletionRequest(Generating):
    prompt: str | list[str]

    def limit(self) -> int | None:
        return self.max_tokens

    def text(self) -> str:
        if isinstance(self.prompt, str):
            return self.prompt
        if len(self.prompt) != 1:
            raise Refused(400, "one prompt per request: a list of several is not supported", param="prompt")
        return self.prompt[0]


def validation_error(errors: list[dict[str, Any]]) -> Refused:
    """A request that does not fit the schema, as OpenAI answers it: a 400 naming the first field at fault."""
    first = errors[0] if errors else {}
    where = [str(p) for p in first.get("loc", ()) if p != "body"]
    param = ".".join(where) or None
    return Refused(400, f"{param or 'body'}: {first.get('msg', 'invalid request')}", param=param)


def ids(kind: str) -> tuple[str, int]:
    return f"{kind}-{uuid.uuid4().hex[:24]}", int(time.time())


def usage(answer) -> dict[str, int]:
    made = answer.completion_tokens
    return {
        "prompt_tokens": answer.prompt_tokens,
        "completion_tokens": made,
        "total_tokens": answer.prompt_tokens + made,
    }


def chat_answer(name: str, version: str, answer) -> dict[str, Any]:
    ident, created = ids("chatcmpl")
    choice = {"index": 0, "message": {"role": "assistant", "content": answer.text}, "logprobs": None,
              "finish_reason": answer.finish_reason}  # fmt: skip
    return {"id": ident, "object": "chat.completion", "created": created, "model": name, "choices": [choice],
            "usage": usage(answer), "system_fingerprint": version}  # fmt: skip


def completion_answer(name: str, version: str, answer) -> dict[str, Any]:
    ident, created = ids("cmpl")
    choice = {"index": 0, "text": answer.text, "logprobs": None, "finish_reason": answer.finish_reason}
    return {"id": ident, "object": "text_completion", "created": created, "model": name, "choices": [choice],
            "usage": usage(answer), "system_fingerprint": version}  # fmt: skip


class Chunks:
    """The stream's events for one answer: `piece` for each new text, `end` for the finish reason, then usage."""

    def __init__(self, chat: bool, name: str, version: str, include_usage: bool) -> None:
        self.chat, self.include_usage = chat, include_usage
        self.ident, created = ids("chatcmpl" if chat else "cmpl")
        kind = "chat.completion.chunk" if chat else "text_completion"
        self.head = {"id": self.ident, "object": kind, "created": created, "model": name,
                     "system_fingerprint": version}  # fmt: skip

    def _chunk(self, choice: dict[str, Any] | None) -> dict[str, Any]:
        chunk = self.head | {"choices": [] if choice is None else [choice | {"index": 0, "logprobs": None}]}
        return chunk | ({"usage": None} if self.include_usage else {})

    def start(self) -> dict[str, Any] | None:
        """A chat stream opens with the assistant's role (as OpenAI's does); a completion has no opening."""
        return (
            self._chunk({"delta": {"role": "assistant", "content": ""}, "finish_reason": None}) if self.chat else None
        )

    def piece(self, text: str) -> dict[str, Any]:
        return self._chunk({"delta": {"content": text}, "finish_reason": None} if self.chat else
                           {"text": text, "finish_reason": None})  # fmt: skip

    def end(self, answer) -> list[dict[str, Any]]:
        last = {"delta": {}} if self.chat else {"text": ""}
        chunks = [self._chunk(last | {"finish_reason": answer.finish_reason})]
        if self.include_usage:
            chunks.append(self._chunk(None) | {"usage": usage(answer)})
        return chunks
