"""Language-model serving: tokens/s and time to first token over HTTP (the OpenAI API of `millrace serve`,
streamed) against in-process Hugging Face `generate()` on the same bundle, at 1 and 4 concurrent streams; and
the int8 variant against float, in-process (tokens/s, perplexity on the control text).

The bundle is SmolLM2-135M-Instruct dequantised from the bundled GGUF, saved as deploy lays a language model out
(a plain checkpoint folder and a manifest): serving does not depend on what training changed, so the base
stands for a fine-tuned model. The prompts are the first `routing` instructions through the chat template;
every answer is greedy and at most `--tokens` long, so both sides make the same tokens. The server runs in a
process of its own (uvicorn, `serve.generation_slots` as many as the most streams), the clients in threads of
the bench; in-process, the same number of threads each call `generate()`. Tokens/s is all streams' tokens over the
wall time; the time to first token is from sending the request (calling `generate()`) to the first text.
Runs alternate, the median of `--repeats` is taken; the ratio is HTTP / in-process (goal at 1 stream: ≥ 0.9).
`--tiny` serves a random 2-layer Llama with SmolLM2's tokenizer instead, for the smoke test.
Run: `python -m bench.llm_serving [--tokens N] [--repeats N] [--tiny]`; results in
bench/results/llm_serving[_tiny].json.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import statistics
import tempfile
import threading
import time
from pathlib import Path

import httpx

from bench import write_results
from millrace.ops.http_ready import free_port, wait_until_answers

PROMPTS, NAME = 8, "bench-sft"
STREAMS = (1, 4)  # the server has as many generation slots as the most streams


def make_bundle(folder: Path, tiny: bool) -> Path:
    """A language-model release folder: bundle/ (weights, tokenizer, chat template) and manifest.json."""
    from millrace.files import write_json
    from millrace.language import base, release_files

    tokenizer = base.load_tokenizer(base.resolve(base.SMOLLM2))
    if tiny:
        import torch
        from transformers import LlamaConfig, LlamaForCausalLM

        torch.manual_seed(0)
        sizes = {"hidden_size": 32, "intermediate_size": 64, "num_hidden_layers": 2, "num_attention_heads": 4}
        model = LlamaForCausalLM(LlamaConfig(vocab_size=len(tokenizer), num_key_value_heads=2, **sizes))
    else:
        model = base.load_model(base.resolve(base.SMOLLM2))
    model.generation_config.eos_token_id = tokenizer.eos_token_id
    weights = release_files.save(folder, model.eval(), tokenizer)
    write_json(folder / release_files.MANIFEST, release_files.named(weights) | {"model_name": NAME, "task": "sft"})
    return folder


def chats() -> list[list[dict[str, str]]]:
    from millrace.language import records
    from millrace.sources.builtin_language import routing

    return [m[:-1] for m in records.examples(routing().head(PROMPTS), "alpaca", {})]


def serve(folder: str, port: int, slots: int) -> None:
    """The server, in a process of its own."""
    import uvicorn

    from millrace.config.params import Serve
    from millrace.serving.app import create_app, load_bundle

    settings = Serve(generation_slots=slots, generation_queue=PROMPTS, max_new_tokens=4096)
    uvicorn.run(create_app(load_bundle(folder), settings), host="127.0.0.1", port=port, log_level="warning")


def run_streams(ask, prompts: list, streams: int) -> tuple[float, float]:
    """`streams` threads sharing the prompts; return (all tokens / wall seconds, mean seconds to first text)."""
    results, lock = [], threading.Lock()
    queue = list(prompts)

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                prompt = queue.pop()
            found = ask(prompt)
            with lock:
                results.append(found)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(streams)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - started
    return sum(made for made, _ in results) / wall, statistics.mean(first for _, first in results)


def http_ask(url: str, tokens: int):
    def ask(messages) -> tuple[int, float]:
        body = {"model": NAME, "messages": messages, "max_tokens": tokens, "temperature": 0, "stream": True,
                "stream_options": {"include_usage": True}}  # fmt: skip
        sent, first, made = time.perf_counter(), None, 0
        with httpx.stream("POST", f"{url}/v1/chat/completions", json=body, timeout=600) as answer:
            for line in answer.iter_lines():
                if not line.startswith("data: {"):
                    continue
                chunk = json.loads(line.removeprefix("data: "))
                if first is None and chunk["choices"] and chunk["choices"][0]["delta"].get("content"):
                    first = time.perf_counter() - sent
                if chunk.get("usage"):
                    made = chunk["usage"]["completion_tokens"]
        return made, first if first is not None else time.perf_counter() - sent

    return ask


def generate_ask(bundle, tokens: int):
    import torch
    from transformers.generation.streamers import BaseStreamer

    class FirstToken(BaseStreamer):
        def __init__(self) -> None:
            self.calls, self.at = 0, None

        def put(self, value) -> None:
            self.calls += 1
            if self.calls == 2:  # the first call hands over the prompt
                self.at = time.perf_counter()

        def end(self) -> None:
            pass

    def ask(messages) -> tuple[int, float]:
        ids = torch.tensor([bundle.chat_ids(messages)])
        timer, sent = FirstToken(), time.perf_counter()
        with torch.inference_mode():
            out = bundle.model.generate(
                input_ids=ids, max_new_tokens=tokens, do_sample=False, streamer=timer,
                pad_token_id=bundle.tokenizer.pad_token_id, eos_token_id=list(bundle.end_ids),
            )  # fmt: skip
        return out.shape[1] - ids.shape[1], (timer.at or time.perf_counter()) - sent

    return ask


def int8_against_float(bundle, prompts: list, tokens: int) -> dict:
    """In-process, the decoding loop the server uses: tokens/s, and perplexity on the control text."""
    from millrace.language import decoding, judging, quantised
    from millrace.language.steps.evaluate import control_examples

    control = control_examples(bundle.tokenizer, 256)
    found = {}
    for name, model in (("fp32", bundle.model), ("int8", quantised.int8(bundle.model))):
        started, made = time.perf_counter(), 0
        for messages in prompts:
            ids = decoding.chat_prompt(bundle.tokenizer, messages)
            sampling = decoding.Sampling(max_tokens=tokens)
            made += len(list(decoding.tokens(model, ids, sampling, bundle.end_ids, threading.Event())))
        losses = judging.example_losses(model, control, bundle.tokenizer.pad_token_id or 0)
        found[name] = {"tokens_per_second": round(made / (time.perf_counter() - started), 2),
                       "control_perplexity": round(judging.perplexity(losses), 4)}  # fmt: skip
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="a random 2-layer Llama: the smoke test's size")
    args = parser.parse_args()
    from bench.tabular import machine_info
    from millrace.serving.language_bundle import LanguageBundle

    prompts = chats()
    found: dict[str, dict[str, list]] = {}
    with tempfile.TemporaryDirectory() as temporary:
        folder = make_bundle(Path(temporary), args.tiny)
        bundle = LanguageBundle(folder)
        port = free_port()
        server = multiprocessing.get_context("spawn").Process(target=serve, args=(str(folder), port, STREAMS[-1]))
        server.start()
        url = f"http://127.0.0.1:{port}"
        try:
            if not wait_until_answers(f"{url}/ready", seconds=300):
                raise SystemExit("the server did not become ready")
            http_ask(url, 2)(prompts[0])  # warm: the first request pays for lazy set-up
            for _ in range(args.repeats):  # alternated: a machine's slow minute falls on both sides
                for streams in STREAMS:
                    for side, ask in (
                        ("http", http_ask(url, args.tokens)),
                        ("generate", generate_ask(bundle, args.tokens)),
                    ):
                        rate, first = run_streams(ask, prompts, streams)
                        runs = found.setdefault(f"{side}_{streams}", {"tokens_per_second": [], "first_token_ms": []})
                        runs["tokens_per_second"].append(round(rate, 2))
                        runs["first_token_ms"].append(round(first * 1000, 1))
        finally:
            server.terminate()
            server.join(30)
        variants = int8_against_float(bundle, prompts, args.tokens)
    median = {key: {k: statistics.median(v) for k, v in runs.items()} for key, runs in found.items()}
    ratios = {s: round(median[f"http_{s}"]["tokens_per_second"] / median[f"generate_{s}"]["tokens_per_second"], 3)
              for s in STREAMS}  # fmt: skip
    record = {
        "what": "tokens/s and time to first token: the OpenAI API over HTTP (streamed) vs in-process generate()",
        "model": "a random 2-layer Llama" if args.tiny else "SmolLM2-135M-Instruct (Q4_1 GGUF, dequantised), fp32",
        "prompts": len(prompts),
        "max_tokens": args.tokens,
        "runs": found,
        "median": median,
        **{f"ratio_http_to_generate_{streams}_streams": ratios[streams] for streams in STREAMS},
        "int8_vs_fp32_in_process": variants,
        "machine": machine_info(),
    }
    path = write_results("llm_serving_tiny" if args.tiny else "llm_serving", record)
    for streams in STREAMS:
        h, g = median[f"http_{streams}"], median[f"generate_{streams}"]
        print(
            f"{streams} stream(s): HTTP {h['tokens_per_second']:.1f} tokens/s (first token {h['first_token_ms']:.0f} "
            f"ms), generate() {g['tokens_per_second']:.1f} ({g['first_token_ms']:.0f} ms): {ratios[streams]:.3f}×"
        )
    print(f"int8 vs fp32 in-process: {variants} ({path})")


if __name__ == "__main__":
    main()
