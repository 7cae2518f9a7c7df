"""The deployed bundle behind the real uvicorn server on a free loopback port."""

import json
import socket
import subprocess
import threading
import time

import httpx
import pytest

from millrace.ops.http_ready import free_port, wait_until_answers
from millrace.serving.openapi_docs import Invalid, Predictions, Refused
from tests.helpers.harness import set_param, tool_env

pytestmark = pytest.mark.slow

PENGUIN = {
    "island": "Biscoe",
    "bill_length_mm": 47.5,
    "bill_depth_mm": 14.8,
    "flipper_length_mm": 217,
    "body_mass_g": 5200,
    "sex": "male",
}


def start(repo, extra_env=None):
    """The real server on a free port; its output lines collect in `process.output` as they come
    (left in the pipe, a busy server's access log fills it and the server stalls on a write)."""
    port = free_port()
    env = {**tool_env(repo), **(extra_env or {})}
    process = subprocess.Popen(
        ["python", "-m", "millrace.serving.app", "--port", str(port)],
        cwd=repo,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    process.output = []

    def drain() -> None:
        for line in process.stdout:
            process.output.append(line)

    threading.Thread(target=drain, daemon=True).start()
    url = f"http://127.0.0.1:{port}"
    if wait_until_answers(f"{url}/health", process, seconds=30):
        return process, url
    process.kill()
    process.wait(timeout=10)
    time.sleep(0.2)  # the drain thread reads what is left
    raise AssertionError("server did not start:\n" + "".join(process.output))


@pytest.fixture
def server(built_repo):
    process, url = start(built_repo)
    yield url
    process.terminate()
    process.wait(timeout=10)


def test_predict_single_and_batch(server):
    reply = httpx.post(f"{server}/predict", json={"records": [PENGUIN]})
    assert reply.status_code == 200
    Predictions.model_validate(reply.json())  # the answer is what the OpenAPI document says
    prediction = reply.json()["predictions"][0]
    assert prediction["class"] == "Gentoo"
    assert abs(sum(prediction["probabilities"].values()) - 1) < 1e-5
    adelie = {
        **PENGUIN,
        "island": "Torgersen",
        "bill_length_mm": 38.0,
        "bill_depth_mm": 19.0,
        "flipper_length_mm": 185,
        "body_mass_g": 3500,
    }
    batch = httpx.post(f"{server}/predict", json={"records": [PENGUIN, adelie]}).json()["predictions"]
    assert [p["class"] for p in batch] == ["Gentoo", "Adelie"]


def test_health_and_metadata(server):
    assert httpx.get(f"{server}/health").json() == {"status": "ok"}
    meta = httpx.get(f"{server}/metadata").json()
    assert meta["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert meta["features"]["categorical"]["island"] == ["Biscoe", "Dream", "Torgersen"]


@pytest.mark.parametrize(
    ("body", "says"),
    [
        ({"rows": [PENGUIN]}, "records"),
        ({"records": []}, "at least 1"),
        ({"records": [{k: v for k, v in PENGUIN.items() if k != "sex"}]}, "missing features: ['sex']"),
        ({"records": [{**PENGUIN, "body_mass_g": "heavy"}]}, "needs a number, got 'heavy'"),
        ({"records": [{**PENGUIN, "bill_depth_mm": float("-inf")}]}, "'bill_depth_mm' needs a number, got -inf"),
    ],
)
def test_malformed_requests_get_422_with_a_clear_message(server, body, says):
    # json.dumps, not httpx's encoder: it writes NaN as Python's json module (and many clients) do
    content = json.dumps(body).encode()
    reply = httpx.post(f"{server}/predict", content=content, headers={"content-type": "application/json"})
    assert reply.status_code == 422
    assert says in reply.text
    # schema errors and values the model cannot use have one documented shape: problems naming the field
    problems = Invalid.model_validate(reply.json()).detail
    assert problems and all(p.field.startswith(("records", "rows")) for p in problems)


@pytest.mark.parametrize(
    "record",
    [
        {**PENGUIN, "island": "Atlantis"},  # an unseen category: its bucket, counted
        {**PENGUIN, "body_mass_g": float("nan")},  # NaN as Python's json writes it: missing, imputed
        {**PENGUIN, "sex": None},
        {**PENGUIN, "sex": " male"},  # repaired as clean repairs it
    ],
)
def test_raw_values_are_served_not_refused(server, record):
    content = json.dumps({"records": [record]}).encode()
    reply = httpx.post(f"{server}/predict", content=content, headers={"content-type": "application/json"})
    assert reply.status_code == 200, reply.text
    assert sum(reply.json()["predictions"][0]["probabilities"].values()) == pytest.approx(1.0)


def test_openapi_describes_a_record_by_the_models_input_signature(server):
    records = httpx.get(f"{server}/openapi.json").json()["components"]["schemas"]["PredictRequest"]
    item = records["properties"]["records"]["items"]
    assert set(item["properties"]) == set(PENGUIN)
    island = item["properties"]["island"]["anyOf"]
    assert {"type": "null"} in island and island[0]["examples"] == ["Biscoe", "Dream", "Torgersen"]
    assert "imputed" in item["description"]


def test_openapi_documents_the_answers_the_server_gives(server):
    spec = httpx.get(f"{server}/openapi.json").json()
    responses = spec["paths"]["/predict"]["post"]["responses"]
    schema = {code: answer["content"]["application/json"]["schema"]["$ref"] for code, answer in responses.items()}
    assert schema == {
        "200": "#/components/schemas/Predictions",
        "401": "#/components/schemas/Refused",
        "413": "#/components/schemas/Refused",
        "422": "#/components/schemas/Invalid",
        "503": "#/components/schemas/Refused",
    }
    assert "HTTPValidationError" not in spec["components"]["schemas"]  # FastAPI's own 422, which we never send
    assert set(spec["components"]["schemas"]["Problem"]["properties"]) == {"field", "message", "got"}
    too_big = httpx.post(f"{server}/predict", content=b"x" * 1_000_001, headers={"content-type": "application/json"})
    assert too_big.status_code == 413 and Refused.model_validate(too_big.json()).detail


def test_invalid_json_is_422_not_500(server):
    reply = httpx.post(f"{server}/predict", content=b"{not json", headers={"content-type": "application/json"})
    assert reply.status_code == 422


def test_oversized_body_is_refused(server):
    reply = httpx.post(f"{server}/predict", content=b"x" * 1_000_001, headers={"content-type": "application/json"})
    assert reply.status_code == 413


def test_a_ten_megabyte_body_is_refused_before_it_is_sent(server):
    """The 413 comes while the client has sent only the headers and a few bytes: nothing waits for the rest."""
    host, port = server.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as connection:
        head = f"POST /predict HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        connection.sendall(f"{head}Content-Length: 10000000\r\n\r\n".encode() + b'{"records": [')
        answer = connection.recv(4096).decode()  # a server reading the body first would time out here
    assert answer.startswith("HTTP/1.1 413"), answer


def test_a_million_element_array_gets_a_short_422_not_its_echo(workspace):
    """With the body cap raised so that it reaches validation, a 1e6-element array where a value belongs (or a
    million bad records) is answered with where and what, in a few hundred bytes: never the input sent back."""
    set_param(workspace, r"^  max_body_bytes: .*$", "  max_body_bytes: 20000000")
    process, url = start(workspace)
    try:
        field = {"records": [{**PENGUIN, "body_mass_g": [0.0] * 1_000_000}]}
        records = {"records": [[0]] * 1_000_000}
        replies = [httpx.post(f"{url}/predict", json=body, timeout=120) for body in (field, records)]
        after = httpx.post(f"{url}/predict", json={"records": [PENGUIN]}, timeout=10)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert [r.status_code for r in replies] == [422, 422] and all(len(r.content) < 2000 for r in replies)
    (error,) = replies[0].json()["detail"]
    assert error == {
        "field": "records[0].body_mass_g",
        "message": "needs a number, a string, a boolean or null",
        "got": "a list of 1000000 items",
    }
    many = replies[1].json()
    assert len(many["detail"]) == 10 and many["more_errors"] == 999_990
    assert many["detail"][0] == {
        "field": "records[0]",
        "message": "Input should be a valid dictionary",
        "got": "a list of 1 item",
    }
    assert after.status_code == 200


def test_chunked_bodies_are_capped_too_and_small_ones_still_served(server):
    def chunks(data: bytes, size: int):
        for start in range(0, len(data), size):
            yield data[start : start + size]

    headers = {"content-type": "application/json"}
    big = httpx.post(f"{server}/predict", content=chunks(b"x" * 1_100_000, 65536), headers=headers)
    assert big.status_code == 413
    body = json.dumps({"records": [PENGUIN]}).encode()
    small = httpx.post(f"{server}/predict", content=chunks(body, 50), headers=headers)
    assert small.status_code == 200 and small.json()["predictions"][0]["class"] == "Gentoo"


def test_token_is_required_when_configured(built_repo, tmp_path):
    import shutil

    repo = tmp_path / "repo"
    shutil.copytree(built_repo, repo, symlinks=True)
    params = repo / "params.yaml"
    params.write_text(params.read_text().replace("token_env: null", "token_env: MILLRACE_TOKEN"))
    process, url = start(repo, {"MILLRACE_TOKEN": "s3cret"})
    try:
        assert httpx.post(f"{url}/predict", json={"records": [PENGUIN]}).status_code == 401
        ok = httpx.post(f"{url}/predict", json={"records": [PENGUIN]}, headers={"Authorization": "Bearer s3cret"})
        assert ok.status_code == 200
        assert httpx.get(f"{url}/health").status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=10)
