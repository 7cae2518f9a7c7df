"""Language-model training throughput: millrace's fine-tuning against a plain Hugging Face loop on the same model,
data, sequence length, batch and precision.

Both sides fine-tune the bundled SmolLM2-135M-Instruct with LoRA (r 8 on q/v), on the `routing` instructions
tokenised once through its chat template (max_length 128), in batches of 8 padded examples, with AdamW and the
same warmup-and-cosine schedule, in fp32 on this machine's CPU. millrace's side is what the train stage runs: the
CausalLMSystem under the Trainer of millrace.training.fit (deterministic, early stopping, checkpoints; no logger);
the plain side is `loss = model(**batch).loss; loss.backward(); optimiser.step()`. Tokens/s counts the batches'
non-padding tokens over the timed steps (the first `--warmup` of each run excluded), runs alternate, the median of
`--repeats` is taken, and the ratio is millrace / plain (the goal: at least 0.95). `--tiny` trains a random
2-layer Llama with SmolLM2's tokenizer instead, for the smoke test.
Run: `python -m bench.lm_training [--steps N] [--tiny]`; results in bench/results/lm_training[_tiny].json.
"""

from __future__ import annotations

import argparse
import math
import statistics
import tempfile
import time
from functools import partial
from pathlib import Path

import lightning as L
import torch
from torch.utils.data import DataLoader

from bench import write_results

BATCH, MAX_LENGTH = 8, 128


class StepTimer(L.Callback):
    """The wall time of the training steps after the first `warmup` (validation and set-up outside it)."""

    def __init__(self, warmup: int) -> None:
        self.warmup, self.started, self.ended = warmup, None, None

    def on_train_batch_start(self, trainer, module, batch, batch_idx) -> None:
        if batch_idx == self.warmup:
            self.started = time.perf_counter()

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_idx) -> None:
        self.ended = time.perf_counter()


def examples(count: int):
    from millrace.language import base, chat, records
    from millrace.sources.builtin_language import routing

    tokenizer = base.load_tokenizer(base.resolve(base.SMOLLM2))
    chats = records.examples(routing().head(count), "alpaca", {})
    return tokenizer, [chat.tokenise(tokenizer, m, MAX_LENGTH, f"example {i}") for i, m in enumerate(chats)]


def model(tiny: bool, vocab: int):
    from millrace.language import base, strategies

    if tiny:
        from transformers import LlamaConfig, LlamaForCausalLM

        torch.manual_seed(0)
        shape = LlamaConfig(vocab_size=vocab, hidden_size=32, intermediate_size=64, num_hidden_layers=2,
                            num_attention_heads=4, num_key_value_heads=2)  # fmt: skip
        network = LlamaForCausalLM(shape)
    else:
        network = base.load_model(base.resolve(base.SMOLLM2))
    return strategies.apply(network, "lora", lora_settings=strategies.LoraSettings(r=8, alpha=16, dropout=0.0))


def tokens_in(batches: list[dict], warmup: int) -> int:
    return int(sum(batch["attention_mask"].sum() for batch in batches[warmup:]))


def millrace_run(network, batches: list[dict], steps: int, warmup: int) -> float:
    from millrace.config.params import Train
    from millrace.language.system import CausalLMSystem
    from millrace.training.fit import trainer

    system = CausalLMSystem(network, lr=1e-3, warmup_steps=max(steps // 10, 1), total_steps=steps)
    timer = StepTimer(warmup)
    with tempfile.TemporaryDirectory() as out:
        fitter, _ = trainer(Train(max_epochs=1, accelerator="cpu", devices=1), Path(out), False, [timer])
        fitter.fit(system, DataLoader(batches, batch_size=None), DataLoader(batches[:1], batch_size=None))
    return tokens_in(batches, warmup) / (timer.ended - timer.started)


def plain_run(network, batches: list[dict], steps: int, warmup: int) -> float:
    torch.use_deterministic_algorithms(True)  # as the Trainer (deterministic=True), so both run the same kernels
    network.train()
    optimiser = torch.optim.AdamW([p for p in network.parameters() if p.requires_grad], lr=1e-3)
    warm = max(steps // 10, 1)

    def factor(step: int) -> float:
        if step < warm:
            return (step + 1) / warm
        return 0.5 * (1 + math.cos(math.pi * min((step - warm) / max(steps - warm, 1), 1.0)))

    schedule = torch.optim.lr_scheduler.LambdaLR(optimiser, factor)
    for step, batch in enumerate(batches):
        if step == warmup:
            started = time.perf_counter()
        loss = network(**batch, use_cache=False).loss
        loss.backward()
        optimiser.step()
        schedule.step()
        optimiser.zero_grad()
    return tokens_in(batches, warmup) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=12)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--tiny", action="store_true", help="a random 2-layer Llama: the smoke test's size")
    args = parser.parse_args()
    from bench.tabular import machine_info
    from millrace.language.batches import collate

    torch.set_float32_matmul_precision("highest")
    tokenizer, tokenised = examples(args.steps * BATCH)
    pad = partial(collate, pad_id=tokenizer.pad_token_id)
    batches = [pad(tokenised[i : i + BATCH]) for i in range(0, args.steps * BATCH, BATCH)]
    found: dict[str, list[float]] = {"millrace": [], "plain": []}
    for _ in range(args.repeats):  # alternated: a machine's slow minute falls on both sides
        found["millrace"].append(millrace_run(model(args.tiny, len(tokenizer)), batches, args.steps, args.warmup))
        found["plain"].append(plain_run(model(args.tiny, len(tokenizer)), batches, args.steps, args.warmup))
    median = {side: statistics.median(rates) for side, rates in found.items()}
    record = {
        "what": "LoRA fine-tuning tokens/s, millrace's Lightning system and Trainer vs a plain Hugging Face loop",
        "model": "a random 2-layer Llama" if args.tiny else "SmolLM2-135M-Instruct (Q4_1 GGUF, dequantised), LoRA r 8",
        "batch": BATCH,
        "max_length": MAX_LENGTH,
        "steps": args.steps,
        "warmup_steps": args.warmup,
        "tokens_per_second": {side: [round(r, 1) for r in rates] for side, rates in found.items()},
        "median": {side: round(rate, 1) for side, rate in median.items()},
        "ratio": round(median["millrace"] / median["plain"], 3),
        "machine": machine_info(),
    }
    path = write_results("lm_training_tiny" if args.tiny else "lm_training", record)
    print(f"millrace {median['millrace']:.0f} tokens/s, plain {median['plain']:.0f}: {record['ratio']:.3f}× ({path})")


if __name__ == "__main__":
    main()
