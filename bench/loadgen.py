"""A lean HTTP load generator for the serving benchmark, run in a process of its own.

Closed loop, like wrk: each of `clients` keep-alive connections sends one POST, reads the whole
answer, and sends the next, for `seconds`. Requests are prepared bytes and answers are parsed only as
far as the status line and Content-Length, on one asyncio loop (uvloop when installed), so the
generator costs a few tens of microseconds a request, against several hundred for a thread per
client with an HTTP library sharing the GIL, and the figures are the server's.
`python -m bench.loadgen URL CLIENTS SECONDS BODIES.json`: BODIES is a JSON list of request bodies
(objects), sent in turn; prints {"latencies_ms": [...], "errors": N, "elapsed_s": S} as JSON.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from urllib.parse import urlsplit


def request(host: str, port: int, path: str, body: dict) -> bytes:
    payload = json.dumps(body).encode()
    head = (
        f"POST {path} HTTP/1.1\r\nHost: {host}:{port}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(payload)}\r\n\r\n"
    )
    return head.encode() + payload


async def client(host: str, port: int, requests: list[bytes], offset: int, stop: float, out: dict) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    i = offset
    try:
        while time.perf_counter() < stop:
            started = time.perf_counter()
            writer.write(requests[i % len(requests)])
            head = await reader.readuntil(b"\r\n\r\n")
            length = 0
            for line in head.split(b"\r\n")[1:]:
                if line[:15].lower() == b"content-length:":
                    length = int(line[15:])
            await reader.readexactly(length)
            out["latencies_ms"].append((time.perf_counter() - started) * 1000)
            out["errors"] += head[9:12] != b"200"
            i += 1
    except (ConnectionError, asyncio.IncompleteReadError):
        out["errors"] += 1
    finally:
        writer.close()


async def run(url: str, clients: int, seconds: float, bodies: list[dict]) -> dict:
    parts = urlsplit(url)
    requests = [request(parts.hostname, parts.port, parts.path or "/", body) for body in bodies]
    out = {"latencies_ms": [], "errors": 0}
    started = time.perf_counter()
    stop = started + seconds
    await asyncio.gather(*(client(parts.hostname, parts.port, requests, n, stop, out) for n in range(clients)))
    return out | {"elapsed_s": time.perf_counter() - started}


def main() -> None:
    url, clients, seconds, bodies = sys.argv[1], int(sys.argv[2]), float(sys.argv[3]), sys.argv[4]
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    with open(bodies) as source:
        result = asyncio.run(run(url, clients, seconds, json.load(source)))
    json.dump(result, sys.stdout)


if __name__ == "__main__":
    main()
