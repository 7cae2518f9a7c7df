"""The model server's front door: body-size cap, load shedding and request telemetry in one ASGI layer.

Written as plain ASGI rather than three `@app.middleware("http")` functions: each of those wraps
the request and response in Starlette's BaseHTTPMiddleware (a task group and a memory stream per
request), which on two cores cost more than the prediction itself.

- A body declared (Content-Length) over `max_body_bytes` is refused with 413 before any of it is
  read; an undeclared (chunked) one is read up to the cap, then handed on whole or refused.
- Beyond `max_concurrency` predictions in flight, `/predict` answers 503 with Retry-After at once
  instead of queueing; health, readiness and metrics answer whatever the load.
- Every request, refused ones included, is observed: route, method, status, seconds.
"""

from __future__ import annotations

import time
from collections.abc import Callable

from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

PREDICT = "/predict"


class Guard:
    def __init__(
        self,
        app: ASGIApp,
        max_body_bytes: int,
        max_concurrency: int,
        observe: Callable[[str, str, int, float], None],
    ) -> None:
        self.app, self.observe = app, observe
        self.max_body_bytes, self.max_concurrency = max_body_bytes, max_concurrency
        self.in_flight = 0  # predictions being served; only the event loop's thread touches it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), 500

        async def recording(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self._admit(scope, receive, recording)
        finally:
            route = getattr(scope.get("route"), "path", "unmatched")
            self.observe(route, scope["method"], status, time.perf_counter() - started)

    async def _admit(self, scope: Scope, receive: Receive, send: Send) -> None:
        too_big = {"detail": f"body over {self.max_body_bytes} bytes"}
        declared = dict(scope["headers"]).get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body_bytes:
            await JSONResponse(too_big, status_code=413)(scope, receive, send)
            return
        if scope["method"] == "POST" and declared is None:
            body = await self._read_capped(receive)
            if body is None:
                await JSONResponse(too_big, status_code=413)(scope, receive, send)
                return
            receive = _replay(body, receive)
        if scope["path"] != PREDICT:
            await self.app(scope, receive, send)
            return
        if self.in_flight >= self.max_concurrency:
            detail = f"busy: {self.in_flight} predictions in flight (serve.max_concurrency); try again shortly"
            await JSONResponse({"detail": detail}, status_code=503, headers={"Retry-After": "1"})(scope, receive, send)
            return
        self.in_flight += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.in_flight -= 1

    async def _read_capped(self, receive: Receive) -> bytes | None:
        """The whole undeclared body, or None as soon as it passes the cap."""
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A receive that hands on the body already read, then whatever the client sends next."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay
