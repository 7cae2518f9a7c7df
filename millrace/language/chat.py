"""Instruction and chat examples as training tokens, the loss on the assistant's tokens only.

An example is a list of messages (`role`, `content`): an optional system message, then user and assistant
turns alternating, ending with the assistant's. Alpaca records (`instruction`, optional `input`, `output`)
become one user and one assistant turn. The text is the tokenizer's chat template applied to the messages; every
token of an assistant's answer, up to and including the end-of-turn token the template closes it with, is learned
(its label is its id) and every other token (system, user, the template's markup, the assistant header) is not
(label -100). Which tokens those are comes from the characters each assistant turn adds to the rendered text
(the template rendered up to the turn with the generation prompt, then with the turn), mapped onto the tokens by
their offsets: no `{% generation %}` markers are needed in the template.

An example whose answer lies wholly past `data.text.max_length` tokens would teach nothing and, batched alone,
report a loss of 0 (huggingface/trl#6668): it is an error naming the example, not a silent skip.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from millrace.errors import MillraceError

IGNORE = -100  # the label of a token the loss skips (torch's cross_entropy ignore_index)
ROLES = ("system", "user", "assistant")


@dataclass(frozen=True)
class Tokenised:
    input_ids: list[int]
    labels: list[int]  # the token id where the loss applies, IGNORE elsewhere
    truncated: bool  # max_length cut the example (some of its answer may be gone)


def from_alpaca(record: dict[str, Any]) -> list[dict[str, str]]:
    """An alpaca record as chat messages: instruction (and input, after a blank line) from the user, output from
    the assistant."""
    instruction, extra = str(record.get("instruction") or "").strip(), str(record.get("input") or "").strip()
    prompt = f"{instruction}\n\n{extra}" if extra else instruction
    return [{"role": "user", "content": prompt}, {"role": "assistant", "content": str(record.get("output") or "")}]


def check(messages: list[dict[str, Any]], where: str) -> None:
    """Known roles, an optional system message first, then user and assistant alternating, ending with the
    assistant; no empty message. `where` names the example in the error."""
    if not messages:
        raise MillraceError(f"{where}: no messages")
    roles = [message.get("role") for message in messages]
    unknown = sorted({str(role) for role in roles if role not in ROLES})
    if unknown:
        raise MillraceError(f"{where}: unknown role {unknown[0]!r}; use {', '.join(ROLES)}")
    turns = roles[1:] if roles[0] == "system" else roles
    expected = ["user" if i % 2 == 0 else "assistant" for i in range(len(turns))]
    if turns != expected or not turns or turns[-1] != "assistant":
        raise MillraceError(
            f"{where}: roles {' → '.join(roles)}; an example is an optional system message, then user and "
            "assistant turns alternating, ending with the assistant's answer"
        )
    for i, message in enumerate(messages):
        if not str(message.get("content") or "").strip():
            raise MillraceError(f"{where}: message {i + 1} ({message['role']}) is empty")


def tokenise(tokenizer, messages: list[dict[str, Any]], max_length: int, where: str) -> Tokenised:
    """The example's token ids through the chat template and its labels: the assistant's tokens only."""
    check(messages, where)
    text = tokenizer.apply_chat_template(messages, tokenize=False)
    spans = []  # each assistant turn's characters in `text`, through its end-of-turn token
    for i, message in enumerate(messages):
        if message["role"] != "assistant":
            continue
        start = len(tokenizer.apply_chat_template(messages[:i], tokenize=False, add_generation_prompt=True))
        upto = tokenizer.apply_chat_template(messages[: i + 1], tokenize=False)
        if not text.startswith(upto) or len(upto) <= start:
            raise MillraceError(
                f"{where}: the chat template does not render the conversation turn by turn (turn {i + 1} changes "
                "what came before it), so the assistant's tokens cannot be told apart; set model.chat_template"
            )
        end = len(upto)
        closing = upto.find(tokenizer.eos_token, start) if tokenizer.eos_token else -1
        if closing >= 0:  # the markup after the end-of-turn token (a newline) is the template's, not the answer
            end = closing + len(tokenizer.eos_token)
        spans.append((start, end))
    encoded = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids, offsets = encoded["input_ids"], encoded["offset_mapping"]
    labels = [
        token if any(start <= first and last <= end for start, end in spans) and last > first else IGNORE
        for token, (first, last) in zip(ids, offsets, strict=True)
    ]
    truncated = len(ids) > max_length
    ids, labels = ids[:max_length], labels[:max_length]
    if all(label == IGNORE for label in labels):
        raise MillraceError(
            f"{where}: the assistant's answer starts after token {max_length}, so nothing of it would be learned "
            f"(the example has {len(encoded['input_ids'])} tokens); raise data.text.max_length or shorten the prompt"
        )
    return Tokenised(ids, labels, truncated)
