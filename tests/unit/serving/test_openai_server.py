"""The OpenAI API, spoken by the real server (uvicorn, in a thread) to the `openai` client library, over a tiny
random Llama bundle: answers are the bundle's own greedy generations, streams end in [DONE] with usage, stop
sequences and finish reasons follow the protocol, unsupported fields are refused in OpenAI's error shape, a full
queue answers 429, and a client that goes away stops its generation. The bundle's decoding loop also stops at an
end-of-sequence id, and over a prompt-tuning adapter answers what the adapted model predicts (peft's own
`generate()` does not: see millrace/language/decoding.py)."""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import threading
import time

import httpx
import pytest

from millrace.config.params import Monitor, Serve
from millrace.ops.http_ready import free_port
from millrace.serving.app import create_app, load_bundle
from millrace.serving.request_log import RequestLog
from tests.helpers.language import tiny_bundle

MODEL = "greetings-sft"
CHAT = [{"role": "system", "content": "You greet people."}, {"role": "user", "content": "Greet Alice in French."}]
LONG = 4000  # tokens: seconds of generation, so a generation left running would show


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    folder = tiny_bundle(tmp_path_factory.mktemp("bundle"), MODEL)
    bundle = load_bundle(folder)
    log = RequestLog(tmp_path_factory.mktemp("monitoring"), Monitor())
    settings = Serve(generation_slots=1, generation_queue=0, max_new_tokens=LONG)
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(create_app(bundle, settings, None, None, log), port=port, log_level="error"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    yield bundle, f"http://127.0.0.1:{port}", log, folder
    server.should_exit = True
    thread.join(10)


@pytest.fixture(scope="module")
def client(served):
    from openai import OpenAI

    return OpenAI(base_url=served[1] + "/v1", api_key="unused", max_retries=0)


def greedy(bundle, max_new_tokens: int) -> str:
    ids = bundle.tokenizer.apply_chat_template(CHAT, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = bundle.model.generate(**ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=0)
    return bundle.decode(out[0, ids["input_ids"].shape[1] :].tolist())


def generated(base: str) -> float:
    text = httpx.get(base + "/metrics").text
    return float(re.search(r"^millrace_generated_tokens_total (\S+)$", text, re.M).group(1))


def test_the_model_is_listed_and_a_chat_answer_is_the_bundles_greedy_generation(served, client):
    bundle = served[0]
    assert [m.id for m in client.models.list().data] == [MODEL]
    answer = client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=12, temperature=0)
    assert answer.choices[0].message.content == greedy(bundle, 12) != ""
    assert answer.choices[0].finish_reason == "length" and answer.system_fingerprint == bundle.version
    prompt = len(bundle.chat_ids(CHAT))
    assert (answer.usage.prompt_tokens, answer.usage.completion_tokens, answer.usage.total_tokens) == (
        prompt, 12, prompt + 12
    )  # fmt: skip


def test_a_stream_gives_the_same_answer_then_its_usage_and_ends_in_done(served, client):
    plain = client.chat.completions.create(model=MODEL, messages=CHAT, max_completion_tokens=10, temperature=0)
    stream = client.chat.completions.create(
        model=MODEL, messages=CHAT, max_tokens=10, temperature=0, stream=True, stream_options={"include_usage": True}
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    assert "".join(c.choices[0].delta.content or "" for c in chunks if c.choices) == plain.choices[0].message.content
    assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "length"
    assert chunks[-1].choices == [] and chunks[-1].usage.completion_tokens == 10
    assert all(c.usage is None for c in chunks[:-1])
    raw = httpx.post(served[1] + "/v1/completions", json={"model": MODEL, "prompt": "Once", "max_tokens": 3,
                                                          "stream": True})  # fmt: skip
    events = [line for line in raw.text.split("\n\n") if line]
    assert raw.headers["content-type"].startswith("text/event-stream") and events[-1] == "data: [DONE]"
    assert json.loads(events[-2].removeprefix("data: "))["choices"][0]["finish_reason"] == "length"


def test_a_stop_sequence_ends_the_answer_before_it_plain_and_streamed(served, client):
    text = greedy(served[0], 12)
    stop = text[4:9]
    expected = text[: text.index(stop)]
    plain = client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=12, temperature=0, stop=[stop])
    assert (plain.choices[0].message.content, plain.choices[0].finish_reason) == (expected, "stop")
    stream = client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=12, temperature=0, stop=stop,
                                            stream=True)  # fmt: skip
    chunks = [c for c in stream if c.choices]
    assert "".join(c.choices[0].delta.content or "" for c in chunks) == expected
    assert chunks[-1].choices[0].finish_reason == "stop"


def test_a_seed_makes_a_sampled_completion_repeatable(client):
    def sample(seed: int) -> str:
        made = client.completions.create(model=MODEL, prompt="Once upon a time", max_tokens=12, temperature=1.0,
                                         top_p=0.9, seed=seed)  # fmt: skip
        return made.choices[0].text

    assert sample(7) == sample(7) != sample(8)


@pytest.mark.parametrize(
    ("field", "value"),
    [("n", 2), ("tools", [{"type": "function", "function": {"name": "f"}}]), ("logprobs", True),
     ("response_format", {"type": "json_object"}), ("frequency_penalty", 0.5), ("guided_json", {})],
)  # fmt: skip
def test_a_field_the_server_does_not_support_is_a_400_naming_it(served, field, value):
    answer = httpx.post(served[1] + "/v1/chat/completions", json={"model": MODEL, "messages": CHAT, field: value})
    assert answer.status_code == 400
    error = answer.json()["error"]
    assert set(error) == {"message", "type", "param", "code"} and error["param"] == field
    neutral = {"n": 1, "logprobs": False, "frequency_penalty": 0, "tools": [], "response_format": {"type": "text"}}
    if field in neutral:  # at the value that asks for nothing, the same field is accepted
        body = {"model": MODEL, "messages": CHAT, "max_tokens": 1, field: neutral[field]}
        assert httpx.post(served[1] + "/v1/chat/completions", json=body).status_code == 200


def test_bad_requests_are_answered_in_openais_error_shape(served, client):
    import openai

    with pytest.raises(openai.BadRequestError) as past:
        client.completions.create(model=MODEL, prompt="word " * 5000, max_tokens=5)
    assert past.value.code == "context_length_exceeded"
    with pytest.raises(openai.BadRequestError, match="serve.max_new_tokens"):
        client.completions.create(model=MODEL, prompt="Hi", max_tokens=LONG + 1)
    with pytest.raises(openai.NotFoundError, match="GET /v1/models"):
        client.chat.completions.create(model="gpt-4o", messages=CHAT)
    with pytest.raises(openai.BadRequestError) as bad:
        client.chat.completions.create(model=MODEL, messages=[{"role": "tool", "content": "42"}])
    assert bad.value.param == "messages.0.role"
    assert httpx.post(served[1] + "/predict", json={"records": [{"a": 1}]}).status_code == 404


def test_a_full_queue_answers_429_and_a_client_that_goes_away_stops_its_generation(served, client):
    import openai

    base = served[1]
    before = generated(base)
    long = {"model": MODEL, "prompt": "Once", "max_tokens": LONG, "temperature": 0, "stream": True}
    with httpx.stream("POST", base + "/v1/completions", json=long) as stream:
        lines = stream.iter_lines()  # kept: an iterator dropped would close the connection
        assert next(lines).startswith("data: ")  # generating: the one slot is taken
        with pytest.raises(openai.RateLimitError) as busy:
            client.completions.create(model=MODEL, prompt="Hi", max_tokens=2)
        assert busy.value.response.headers["retry-after"] == "1" and busy.value.code == "rate_limit_exceeded"
    time.sleep(0.3)  # the next token finds the stream closed
    stopped = generated(base)
    time.sleep(0.5)
    assert generated(base) == stopped < before + LONG / 2  # nothing more is generated for it
    with pytest.raises(httpx.ReadTimeout):  # a plain request whose client gives up
        httpx.post(base + "/v1/completions", json={"model": MODEL, "prompt": "Once", "max_tokens": LONG}, timeout=0.5)
    time.sleep(0.3)
    stopped = generated(base)
    time.sleep(0.5)
    assert generated(base) == stopped
    assert client.completions.create(model=MODEL, prompt="Hi", max_tokens=2).choices[0].finish_reason == "length"


def test_the_request_log_keeps_lengths_finish_reasons_and_refusals_not_the_texts(served, client):
    log = served[2]
    client.chat.completions.create(model=MODEL, messages=CHAT, max_tokens=3, temperature=0)
    httpx.post(served[1] + "/v1/chat/completions", json={"model": MODEL, "messages": CHAT, "n": 3})
    log.flush()
    with sqlite3.connect(log.path) as connection:
        rows = connection.execute("select record, prediction from requests order by id desc limit 2").fetchall()
    (refusal, refused), (record, answer) = [(json.loads(r), json.loads(p)) for r, p in rows]
    assert record["completion_tokens"] == 3 and record["prompt_tokens"] > 0 and record["first_token_ms"] > 0
    assert answer == "length" and record["empty"] is False and "prompt" not in record and "completion" not in record
    assert (refusal["refused"], refusal["code"], refused) == (400, "unsupported_parameter", "refused")


def test_an_end_of_sequence_id_ends_the_answer_with_finish_reason_stop(served):
    from millrace.serving import generating
    from millrace.serving.language_bundle import LanguageBundle, Sampling
    from millrace.serving.slots import Slots

    bundle = LanguageBundle(served[3])
    prompt = bundle.chat_ids(CHAT)
    first = list(bundle.tokens(prompt, Sampling(max_tokens=3, temperature=0), threading.Event()))
    bundle.end_ids = frozenset({first[2]})  # as if the model's third token were its end of sequence

    async def answer():
        slots, made = Slots(1, 0), generating.Answer(prompt_tokens=len(prompt))
        await slots.acquire()
        pieces = generating.start(bundle, prompt, Sampling(max_tokens=50, temperature=0), [], slots, made)
        return "".join([piece async for piece in pieces]), made

    text, made = asyncio.run(answer())
    assert (text, made.finish_reason, made.completion_tokens) == (bundle.decode(first[:2]), "stop", 3)


def test_over_a_prompt_tuning_adapter_each_token_is_what_the_whole_sequence_forward_predicts(served, tmp_path):
    import torch

    from millrace.files import write_json
    from millrace.language import release_files, strategies
    from millrace.serving.language_bundle import LanguageBundle, Sampling

    base = served[3] / "bundle"  # a checkpoint folder: the base the adapter was trained over
    torch.manual_seed(0)
    tuned = strategies.apply(served[0].model.__class__.from_pretrained(base), "prompt_tuning", virtual_tokens=4)
    weights = release_files.save(tmp_path, tuned, served[0].tokenizer)
    manifest = release_files.named(weights) | {"model_name": MODEL, "task": "sft", "pretrained": str(base)}
    write_json(tmp_path / release_files.MANIFEST, manifest)
    bundle = LanguageBundle(tmp_path)
    prompt = bundle.chat_ids(CHAT)
    ours = list(bundle.tokens(prompt, Sampling(max_tokens=10, temperature=0), threading.Event()))
    with torch.no_grad():  # no cache: the adapter's virtual tokens once, before the whole sequence
        whole = bundle.model(input_ids=torch.tensor([prompt + ours])).logits[0, -len(ours) - 1 : -1].argmax(-1)
    assert ours == whole.tolist()
    plain = list(served[0].tokens(prompt, Sampling(max_tokens=10, temperature=0), threading.Event()))
    assert ours != plain  # the virtual tokens changed the answer: the adapter was applied


def test_the_int8_variant_is_measured_kept_within_its_tolerance_and_served_only_when_kept(served, tmp_path):
    import shutil
    from types import SimpleNamespace

    from millrace.errors import MillraceError
    from millrace.language import chat
    from millrace.language.steps.deploy import variants
    from millrace.serving.language_bundle import LanguageBundle, Sampling

    bundle = served[0]
    val = [chat.tokenise(bundle.tokenizer, CHAT[1:] + [{"role": "assistant", "content": "Bonjour."}], 64, "e")]
    lenient = SimpleNamespace(variants=["int8", "pruned"], perplexity_tolerance=10.0)
    found = variants(bundle.model, val, 0, lenient)
    int8 = found["int8"]
    assert "refused" not in int8 and int8["increase"] == pytest.approx(
        int8["validation_perplexity"] / int8["fp32_validation_perplexity"] - 1
    )
    assert "not built for a language model" in found["pruned"]["refused"]
    strict = SimpleNamespace(variants=["int8"], perplexity_tolerance=int8["increase"] - 1e-6)
    assert "deploy.perplexity_tolerance" in variants(bundle.model, val, 0, strict)["int8"]["refused"]

    folder = tmp_path / "release"
    shutil.copytree(served[3], folder)
    manifest = json.loads((folder / "manifest.json").read_text())
    (folder / "manifest.json").write_text(json.dumps(manifest | {"variants": {"int8": int8}}))
    quantised = LanguageBundle(folder, "int8")
    assert any(type(m).__module__.startswith("torch.ao.nn.quantized.dynamic") for m in quantised.model.modules())
    assert len(list(quantised.tokens(bundle.chat_ids(CHAT), Sampling(max_tokens=4), threading.Event()))) == 4
    refused = {"int8": int8 | {"refused": "validation perplexity rose 40%"}}
    (folder / "manifest.json").write_text(json.dumps(manifest | {"variants": refused}))
    with pytest.raises(MillraceError, match="rose 40%"):
        LanguageBundle(folder, "int8")


def test_the_token_and_the_loading_model_are_refused_in_openais_shape(served):
    from fastapi.testclient import TestClient

    guarded = TestClient(create_app(served[0], Serve(), token="s3cret"))
    refused = guarded.get("/v1/models")
    assert refused.status_code == 401 and refused.json()["error"]["code"] == "invalid_api_key"
    assert guarded.get("/v1/models", headers={"Authorization": "Bearer s3cret"}).json()["data"][0]["id"] == MODEL
    loaded = threading.Event()
    with TestClient(create_app(lambda: loaded.wait(10) and served[0], Serve())) as loading:
        waiting = loading.get("/v1/models")
        loaded.set()
    assert waiting.status_code == 503 and waiting.headers["retry-after"] == "1"
    assert set(waiting.json()["error"]) == {"message", "type", "param", "code"}
