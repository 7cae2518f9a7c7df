"""The OpenAI API on the model server, for a language-model bundle: `GET /v1/models`, `POST /v1/chat/completions`
and `POST /v1/completions`, plain or streamed as server-sent events ending in `data: [DONE]`.

Each answer takes one of `serve.generation_slots`; `serve.generation_queue` more requests may wait for one, and
beyond that a request is answered 429 with Retry-After at once. A client that goes away (a closed stream, or a
plain request whose connection drops) stops its generation before the next token. A prompt that leaves no room
in the model's context for the answer is a 400 (`context_length_exceeded`). The request log (`monitor.*`) keeps
lengths, the finish reason and the time to first token of each answer, and each refusal's status; the texts
themselves only with `monitor.log_texts`.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from fastapi import Depends, FastAPI, Request
from fastapi.responses import StreamingResponse

from millrace.serving import generating, openai_api, openapi_docs
from millrace.serving.generating import Answer
from millrace.serving.language_bundle import LanguageBundle, Sampling
from millrace.serving.openai_api import GENERATION_RESPONSES, ChatRequest, CompletionRequest, Refused
from millrace.serving.slots import Full, Slots


class GenerationResponse(StreamingResponse):
    """A stream that stops its generation however the response ends: completed, failed or disconnected."""

    def __init__(self, content: AsyncIterator[str], answer: Answer) -> None:
        super().__init__(content, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})
        self.answer = answer

    async def __call__(self, scope, receive, send) -> None:
        try:
            await super().__call__(scope, receive, send)
        finally:
            self.answer.cancelled.set()


def add_routes(app: FastAPI, current: Callable[[], Any], settings, authorised, telemetry, log=None) -> None:
    """The /v1 routes over `current()`, the bundle being served, counted in `telemetry`; `log`: the request log
    (the texts too with `monitor.log_texts`)."""
    texts = log is not None and log.settings.log_texts
    slots = Slots(settings.generation_slots, settings.generation_queue)
    responses = GENERATION_RESPONSES | {413: openapi_docs.PREDICT[413]}  # the guard's refusal, before the app

    def language(model: str | None = None) -> LanguageBundle:
        bundle = current()
        if not isinstance(bundle, LanguageBundle):
            raise Refused(404, "the served model is not a language model: POST /predict", code="model_not_found")
        if model is not None and model not in (bundle.name, bundle.version):
            raise Refused(404, f"model {model!r} is not served here; GET /v1/models lists {bundle.name!r}",
                          param="model", code="model_not_found")  # fmt: skip
        return bundle

    def sampling(bundle: LanguageBundle, prompt: list[int], body: openai_api.Generating, limit: int | None) -> Sampling:
        room = bundle.context_length - len(prompt)
        if room < 1 or (limit is not None and limit > room):
            wanted = f" plus {limit} to generate" if limit is not None else ""
            raise Refused(400, f"the prompt has {len(prompt)} tokens{wanted}; the model's context is "
                          f"{bundle.context_length} tokens", param="messages" if isinstance(body, ChatRequest)
                          else "prompt", code="context_length_exceeded")  # fmt: skip
        if limit is not None and limit > settings.max_new_tokens:
            raise Refused(400, f"at most {settings.max_new_tokens} tokens per answer (serve.max_new_tokens), "
                          f"asked for {limit}", param="max_tokens")  # fmt: skip
        chosen = min(limit or settings.max_new_tokens, room)
        return Sampling(max_tokens=chosen, temperature=body.temperature, top_p=body.top_p, seed=body.seed)

    async def answer(bundle: LanguageBundle, prompt: list[int], body, request: Request, chat: bool):
        body.unsupported()
        chosen = sampling(bundle, prompt, body, body.limit())
        made = Answer(prompt_tokens=len(prompt), counted=telemetry.tokens.inc)  # its clock counts the queue's wait
        try:
            await slots.acquire()
        except Full as exc:
            message = f"busy: {exc} (serve.generation_slots, serve.generation_queue); retry shortly"
            retry = {"Retry-After": "1"}
            raise Refused(429, message, type="server_busy", code="rate_limit_exceeded", headers=retry) from None
        pieces = generating.start(bundle, prompt, chosen, body.stops(), slots, made)
        if body.stream:
            chunks = openai_api.Chunks(chat, bundle.name, bundle.version, bool(body.stream_options and
                                       body.stream_options.include_usage))  # fmt: skip
            return GenerationResponse(_events(pieces, chunks, made, lambda: _record(bundle, body, made)), made)
        watcher = asyncio.create_task(_stop_when_gone(request, made))
        try:
            async for _ in pieces:
                pass
        finally:
            watcher.cancel()
            made.cancelled.set()
        _record(bundle, body, made)
        build = openai_api.chat_answer if chat else openai_api.completion_answer
        return build(bundle.name, bundle.version, made)

    def _record(bundle: LanguageBundle, body, made: Answer) -> None:
        telemetry.answers.labels(made.finish_reason).inc()
        if made.first_token_seconds is not None:
            telemetry.first_token.observe(made.first_token_seconds)
        if log is None:
            return
        record = _described(body) | {"prompt_tokens": made.prompt_tokens, "completion_tokens": made.completion_tokens,
                                     "finish_reason": made.finish_reason, "empty": not made.text.strip(),
                                     "first_token_ms": None if made.first_token_seconds is None
                                     else made.first_token_seconds * 1000}  # fmt: skip
        if texts:
            record |= {"prompt": _prompt_text(body), "completion": made.text}
        log.record(bundle.version, [record], [{"value": made.finish_reason}], time.perf_counter() - made.started)

    async def respond(body: ChatRequest | CompletionRequest, request: Request):
        """The answer, or the refusal, which the request log keeps beside the answers (a rising share of 400s or
        429s is a change in what clients ask, or in how busy the server is)."""
        started = time.perf_counter()
        bundle = language(body.model)
        chat = isinstance(body, ChatRequest)
        try:
            if chat and not bundle.chat:
                raise Refused(400, "the model has no chat template: POST /v1/completions", param="messages")
            prompt = bundle.chat_ids([m.plain() for m in body.messages]) if chat else bundle.text_ids(body.text())
            return await answer(bundle, prompt, body, request, chat)
        except Refused as refused:
            if log is not None:
                record = _described(body) | {"refused": refused.status, "code": refused.code or refused.param}
                log.record(bundle.version, [record], [{"value": "refused"}], time.perf_counter() - started)
            raise

    @app.get("/v1/models", dependencies=[Depends(authorised)], responses={"4XX": GENERATION_RESPONSES["4XX"]})
    def models() -> dict[str, Any]:
        """The model served, as OpenAI lists models."""
        bundle = language()
        entry = {"id": bundle.name, "object": "model", "created": bundle.created, "owned_by": "millrace"}
        return {"object": "list", "data": [entry]}

    @app.post("/v1/chat/completions", dependencies=[Depends(authorised)], responses=responses)
    async def chat_completions(body: ChatRequest, request: Request):
        """An answer to a conversation, through the chat template the model was trained with."""
        return await respond(body, request)

    @app.post("/v1/completions", dependencies=[Depends(authorised)], responses=responses)
    async def completions(body: CompletionRequest, request: Request):
        """A continuation of a text, as the model reads it (no chat template)."""
        return await respond(body, request)


async def _events(pieces: AsyncIterator[str], chunks: openai_api.Chunks, made: Answer, done) -> AsyncIterator[str]:
    """Server-sent events: the opening chunk, one per piece of text, the finish reason, usage if asked, [DONE]."""

    def event(chunk: dict[str, Any]) -> str:
        return f"data: {json.dumps(chunk)}\n\n"

    opening = chunks.start()
    if opening is not None:
        yield event(opening)
    async for piece in pieces:
        yield event(chunks.piece(piece))
    for chunk in chunks.end(made):
        yield event(chunk)
    yield "data: [DONE]\n\n"
    done()


async def _stop_when_gone(request: Request, made: Answer) -> None:
    """Stop the generation if the client disconnects before its answer is ready."""
    while (await request.receive())["type"] != "http.disconnect":
        pass
    made.cancelled.set()


def _described(body) -> dict[str, Any]:
    return {"endpoint": "chat" if isinstance(body, ChatRequest) else "completions", "stream": body.stream}


def _prompt_text(body) -> str:
    if isinstance(body, ChatRequest):
        return json.dumps([m.plain() for m in body.messages])
    return body.text()
