"""200 clients sending without pause for 30 s against the real server: every request is answered, 200 or
an immediate 503 (`serve.max_concurrency`), within seconds, none hangs or errors; the server's own counts
match what the clients saw, and it serves normally afterwards."""

import asyncio
import re
import time
from collections import Counter

import httpx
import pytest

from tests.e2e.test_serve import start
from tests.helpers.harness import set_param
from tests.reliability.invariants import assert_invariants

pytestmark = [pytest.mark.slow, pytest.mark.exclusive]

CLIENTS, SECONDS = 200, 30
RECORD = {
    "island": "Biscoe",
    "bill_length_mm": 45.1,
    "bill_depth_mm": 14.5,
    "flipper_length_mm": 215.0,
    "body_mass_g": 5000.0,
    "sex": "female",
}


async def storm(url: str) -> tuple[Counter, float]:
    """Answers by status (or by the exception that stood for one) and the slowest answer's seconds."""
    answers: Counter = Counter()
    slowest = 0.0
    end = time.monotonic() + SECONDS

    async def client() -> None:
        nonlocal slowest
        async with httpx.AsyncClient(timeout=60) as http:
            while time.monotonic() < end:
                sent = time.monotonic()
                try:
                    reply = await http.post(f"{url}/predict", json={"records": [RECORD]})
                    answers[reply.status_code] += 1
                except httpx.HTTPError as exc:
                    answers[type(exc).__name__] += 1
                slowest = max(slowest, time.monotonic() - sent)

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return answers, slowest


def served(metrics: str, status: int) -> int:
    """POST requests the server counted with this status (a shed request is counted before routing)."""
    found = re.findall(rf'millrace_requests_total{{method="POST",route="[^"]+",status="{status}"}} (\S+)', metrics)
    return sum(int(float(count)) for count in found)


def test_a_crowd_gets_answers_or_an_immediate_503_and_never_a_hang(workspace):
    set_param(workspace, r"^  max_concurrency: .*$", "  max_concurrency: 16")
    set_param(workspace, r"^  log_requests: .*$", "  log_requests: false")
    process, url = start(workspace)
    try:
        answers, slowest = asyncio.run(storm(url))
        alive = process.poll() is None
        after = httpx.post(f"{url}/predict", json={"records": [RECORD]}, timeout=10)
        metrics = httpx.get(f"{url}/metrics", timeout=10).text
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert alive and set(answers) <= {200, 503}, answers  # no crash, timeout, reset or 500
    assert answers[200] > 0 and answers[503] > 0, answers  # the limit was reached and said so
    assert slowest < 10, f"a request waited {slowest:.1f} s"  # a hang would wait the client's 60 s
    assert (served(metrics, 200), served(metrics, 503)) == (answers[200] + 1, answers[503])  # none lost
    assert after.status_code == 200 and after.json()["predictions"][0]["class"]
    assert_invariants(workspace)
