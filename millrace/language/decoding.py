"""How a causal LM answers: one decoding loop, used wherever millrace makes a model generate (evaluate's answers,
deploy's parity check, the server), so what is served answers exactly as what was evaluated.

Written here rather than calling `generate()` for three reasons. Each answer gets its own seeded random
generator (two requests sampling at once never share one). The server can stop it between two tokens and hand
on each token as it is made. And peft 0.21's `generate()` under transformers 5 re-adds a prompt-tuning adapter's
virtual tokens at every step (it looks for the cache under its old name), answering something the model does
not say; here the first call goes through the adapter and the following ones, over the cache that already
holds the virtual tokens, through the model underneath it. At temperature 0 it is greedy; a test holds it to
`generate()`'s tokens on a plain model and to a whole-sequence forward over an adapter.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Sampling:
    max_tokens: int
    temperature: float = 0.0  # 0: greedy
    top_p: float = 1.0
    seed: int | None = None


def tokens(
    model, prompt: list[int], sampling: Sampling, end_ids: frozenset[int], cancelled: threading.Event | None = None
) -> Iterator[int]:
    """The answer's token ids, one at a time, ending at an end id (which it yields), `sampling.max_tokens`, or
    as soon as `cancelled` is set."""
    import torch  # here, not on import: the model server imports this module before it knows it serves an LM

    generator = torch.Generator()
    generator.manual_seed(sampling.seed if sampling.seed is not None else torch.seed())
    stepper = model.get_base_model() if hasattr(model, "peft_config") else model
    with torch.inference_mode():
        out = model(input_ids=torch.tensor([prompt]), use_cache=True, logits_to_keep=1)
        for made in range(1, sampling.max_tokens + 1):
            if cancelled is not None and cancelled.is_set():
                return
            token = pick(out.logits[0, -1].float(), sampling, generator)
            yield token
            if token in end_ids or made == sampling.max_tokens:
                return
            out = stepper(input_ids=torch.tensor([[token]]), cache=out.cache, use_cache=True)


def pick(logits: torch.Tensor, sampling: Sampling, generator: torch.Generator) -> int:
    """The next token: the most likely at temperature 0, else drawn from the tempered nucleus (top_p)."""
    import torch

    if sampling.temperature == 0:
        return int(logits.argmax())
    probs = torch.softmax(logits / sampling.temperature, dim=-1)
    if sampling.top_p < 1:
        ordered, order = probs.sort(descending=True)
        keep = ordered.cumsum(-1) - ordered < sampling.top_p  # the most likely tokens until top_p is covered
        probs = torch.zeros_like(probs).scatter(0, order[keep], ordered[keep])
    return int(torch.multinomial(probs, 1, generator=generator))


def end_ids(tokenizer, model=None) -> frozenset[int]:
    """The ids an answer ends at: the tokenizer's end of sequence and those of the model's generation config."""
    found = {tokenizer.eos_token_id}
    config = getattr(model, "generation_config", None)
    listed = getattr(config, "eos_token_id", None)
    found |= set(listed if isinstance(listed, list) else [listed])
    return frozenset(i for i in found if i is not None)


def chat_prompt(tokenizer, messages: list[dict[str, str]]) -> list[int]:
    """A conversation's token ids through the tokenizer's chat template, ready for the assistant's answer."""
    ids = tokenizer.apply_chat_template(messages, add_generation_prompt=True, tokenize=True)
    return list(ids["input_ids"] if hasattr(ids, "keys") else ids)


def text_prompt(tokenizer, text: str) -> list[int]:
    return tokenizer(text, add_special_tokens=False)["input_ids"]


def answer(model, tokenizer, prompt: list[dict[str, str]] | str, sampling: Sampling) -> list[int]:
    """The token ids a model answers a chat (through its template) or continues a text with."""
    ids = text_prompt(tokenizer, prompt) if isinstance(prompt, str) else chat_prompt(tokenizer, prompt)
    return list(tokens(model, ids, sampling, end_ids(tokenizer, model)))
