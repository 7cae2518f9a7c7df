"""A scripted HTTP server on a loopback port: URL sources (each path misbehaves its own way) and webhooks.

POSTs are answered 204 and their bodies kept in `posted` (a list per path), so a test can read what a
webhook sent.
"""

from __future__ import annotations

import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

Route = Callable[[BaseHTTPRequestHandler, int], None]  # (handler, how many times this path was asked for)


def body(payload: bytes, status: int = 200, length: int | None = None) -> Route:
    """Answer with `payload`; `length` overrides Content-Length (a lying server)."""

    def route(handler: BaseHTTPRequestHandler, _: int) -> None:
        handler.send_response(status)
        handler.send_header("Content-Length", str(len(payload) if length is None else length))
        handler.end_headers()
        handler.wfile.write(payload)
        if length is not None and length != len(payload):
            handler.close_connection = True  # hang up, as a server that lost the rest would

    return route


def fails_then(times: int, then: Route, status: int = 503) -> Route:
    def route(handler: BaseHTTPRequestHandler, calls: int) -> None:
        if calls <= times:
            body(b"busy", status)(handler, calls)
        else:
            then(handler, calls)

    return route


def redirect(location: str) -> Route:
    def route(handler: BaseHTTPRequestHandler, _: int) -> None:
        handler.send_response(302)
        handler.send_header("Location", location)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    return route


def silent(seconds: float) -> Route:
    """Accept the request and say nothing for `seconds` (a server that never answers in time)."""

    def route(handler: BaseHTTPRequestHandler, _: int) -> None:
        time.sleep(seconds)

    return route


def endless(chunk: bytes = b"x" * 65536) -> Route:
    """Stream without a Content-Length until the client hangs up."""

    def route(handler: BaseHTTPRequestHandler, _: int) -> None:
        handler.send_response(200)
        handler.end_headers()
        try:
            for _ in range(100_000):
                handler.wfile.write(chunk)
        except OSError:
            pass
        handler.close_connection = True

    return route


@contextmanager
def serve(routes: dict[str, Route], posted: dict[str, list[bytes]] | None = None) -> Iterator[tuple[str, Counter]]:
    """Yield the base URL and a counter of requests per path; POST bodies are appended to `posted`."""
    calls: Counter = Counter()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:  # noqa: N802 (the name http.server dispatches on)
            calls[self.path] += 1
            route = routes.get(self.path)
            if route is None:
                body(b"not found", 404)(self, calls[self.path])
            else:
                route(self, calls[self.path])

        def do_POST(self) -> None:  # noqa: N802
            calls[self.path] += 1
            received = self.rfile.read(int(self.headers.get("Content-Length") or 0))
            if posted is not None:
                posted.setdefault(self.path, []).append(received)
            self.send_response(204)
            self.end_headers()

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", calls
    finally:
        server.shutdown()
        server.server_close()
