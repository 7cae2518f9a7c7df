"""200 clients at once against the real server: every request is answered, 200 or an immediate 503
(`serve.max_concurrency`), none hangs or errors, and the server keeps serving afterwards."""

import asyncio
from collections import Counter

import httpx
import pytest

from tests.e2e.test_serve import start
from tests.harness import set_param
from tests.reliability.invariants import assert_invariants

pytestmark = pytest.mark.slow

CLIENTS, REQUESTS = 200, 5
RECORD = {
    "island": "Biscoe",
    "bill_length_mm": 45.1,
    "bill_depth_mm": 14.5,
    "flipper_length_mm": 215.0,
    "body_mass_g": 5000.0,
    "sex": "female",
}


async def storm(url: str) -> Counter:
    answers: Counter = Counter()

    async def client() -> None:
        async with httpx.AsyncClient(timeout=60) as http:
            for _ in range(REQUESTS):
                try:
                    reply = await http.post(f"{url}/predict", json={"records": [RECORD]})
                    answers[reply.status_code] += 1
                except httpx.HTTPError as exc:
                    answers[type(exc).__name__] += 1

    await asyncio.gather(*(client() for _ in range(CLIENTS)))
    return answers


def test_a_crowd_gets_answers_or_an_immediate_503_and_never_a_hang(workspace):
    set_param(workspace, r"^  max_concurrency: .*$", "  max_concurrency: 16")
    set_param(workspace, r"^  log_requests: .*$", "  log_requests: false")
    process, url = start(workspace)
    try:
        answers = asyncio.run(storm(url))
        after = httpx.post(f"{url}/predict", json={"records": [RECORD]}, timeout=10)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert sum(answers.values()) == CLIENTS * REQUESTS
    assert set(answers) <= {200, 503}, answers  # no timeout, no reset, no 500
    assert answers[200] > 0 and answers[503] > 0, answers  # the limit was reached and said so
    assert after.status_code == 200 and after.json()["predictions"][0]["class"]
    assert_invariants(workspace)
