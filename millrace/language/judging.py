"""Judging a causal LM: perplexity on tokens, answers generated for prompts, and how close those answers are to
the references (ROUGE-L F1 by rouge-score, corpus BLEU by sacreBLEU, exact match, and exact match of the answer
read leniently from the reply), each with a bootstrap 95% interval over the examples.

Perplexity is exp of the mean loss over every learned token (an answer's tokens for fine-tuning, every token for
a corpus), batches weighted by their tokens. Exact match compares answers once normalised (case, punctuation,
whitespace: millrace.labelling.near_duplicates.normalised_text), as short answers are written many ways.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from millrace.labelling.near_duplicates import normalised_text
from millrace.language import decoding
from millrace.language.batches import collate
from millrace.language.chat import Tokenised


@torch.no_grad()
def example_losses(model, examples: list[Tokenised], pad_id: int, batch_size: int = 8) -> list[tuple[float, int]]:
    """Each example's summed loss over its learned tokens and how many there are."""
    model.eval()
    found = []
    for start in range(0, len(examples), batch_size):
        batch = collate(examples[start : start + batch_size], pad_id)
        logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"], use_cache=False).logits
        logits = logits[:, -batch["input_ids"].shape[1] :]  # prompt tuning puts its virtual tokens' logits first
        labels = batch["labels"][:, 1:]
        losses = torch.nn.functional.cross_entropy(
            logits[:, :-1].transpose(1, 2).float(), labels, ignore_index=-100, reduction="none"
        )
        for row in range(len(labels)):
            counted = labels[row] != -100
            found.append((float(losses[row][counted].sum()), int(counted.sum())))
    return found


def perplexity(losses: list[tuple[float, int]]) -> float:
    total, count = sum(loss for loss, _ in losses), sum(n for _, n in losses)
    return math.exp(total / max(count, 1))


def perplexity_interval(losses: list[tuple[float, int]], resamples: int, seed: int) -> dict[str, float] | None:
    """The perplexity's bootstrap interval over examples (each resample: its summed loss over its tokens)."""
    total, count = np.array([loss for loss, _ in losses]), np.array([n for _, n in losses])
    return bootstrap(lambda i: math.exp(total[i].sum() / max(count[i].sum(), 1)), len(losses), resamples, seed)


@dataclass(frozen=True)
class GenerationSettings:
    max_new_tokens: int = 64
    do_sample: bool = False
    temperature: float = 1.0
    top_p: float = 1.0


def answers(
    model, tokenizer, prompts: list[list[dict[str, str]]], settings: GenerationSettings, seed: int
) -> list[str]:
    """The model's answer to each prompt (its messages so far), through the chat template, special tokens off:
    by the decoding loop the server answers with."""
    model.eval()
    sampled = settings.do_sample
    replies = []
    for i, messages in enumerate(prompts):
        sampling = decoding.Sampling(
            max_tokens=settings.max_new_tokens,
            temperature=settings.temperature if sampled else 0.0,
            top_p=settings.top_p if sampled else 1.0,
            seed=seed + i,  # each answer its own draw, the same every run
        )
        made = decoding.answer(model, tokenizer, messages, sampling)
        replies.append(tokenizer.decode(made, skip_special_tokens=True).strip())
    return replies


def rouge_l(predictions: list[str], references: list[str]) -> np.ndarray:
    from rouge_score import rouge_scorer

    scorer = rouge_scorer.RougeScorer(["rougeL"])
    return np.array(
        [scorer.score(ref, pred)["rougeL"].fmeasure for pred, ref in zip(predictions, references, strict=True)]
    )


def exact_match(predictions: list[str], references: list[str]) -> np.ndarray:
    return np.array(
        [float(normalised_text(p) == normalised_text(r)) for p, r in zip(predictions, references, strict=True)]
    )


MAX_CHOICES = 20  # answers drawn from at most this many distinct values are a closed set: found in a reply


def choices(answers: list[str]) -> list[str] | None:
    """The training answers as a closed set of choices, when there are few of them (labels), else None."""
    distinct = sorted({normalised_text(answer) for answer in answers} - {""})
    return distinct if len(distinct) <= MAX_CHOICES else None


def extract(reply: str, known: list[str] | None) -> str:
    """The answer in a reply, read leniently: the known answer it names first (whole words, any case), else its
    first non-empty line."""
    said = normalised_text(reply)
    if known:
        found = [(f" {said} ".find(f" {choice} "), choice) for choice in known]
        named = sorted((at, choice) for at, choice in found if at >= 0)
        if named:
            return named[0][1]
    return next((line.strip() for line in reply.splitlines() if line.strip()), "")


def with_shots(prompt: list[dict[str, str]], shots: list[list[dict[str, str]]]) -> list[dict[str, str]]:
    """The prompt after the example conversations, as earlier turns (its system message, if any, first)."""
    system = prompt[:1] if prompt and prompt[0]["role"] == "system" else []
    earlier = [m for shot in shots for m in shot if m["role"] != "system"]
    return system + earlier + prompt[len(system) :]


def bleu(predictions: list[str], references: list[str]) -> float:
    """Corpus BLEU (sacreBLEU's defaults: 13a tokenisation, exponential smoothing), 0 to 100."""
    import sacrebleu

    return float(sacrebleu.corpus_bleu(predictions, [references]).score)


def bootstrap(statistic: Callable[[np.ndarray], float], n: int, resamples: int, seed: int) -> dict[str, float] | None:
    """A percentile 95% interval of `statistic(indices)` over resampled examples; None without resamples."""
    if resamples == 0 or n == 0:
        return None
    rng = np.random.default_rng(seed)
    values = [statistic(rng.integers(0, n, n)) for _ in range(resamples)]
    low, high = np.percentile(values, [2.5, 97.5])
    return {"low": round(float(low), 4), "high": round(float(high), 4)}


def scores(
    predictions: list[str], references: list[str], resamples: int, seed: int, known: list[str] | None = None
) -> tuple[dict, dict]:
    """rouge_l, bleu, exact_match and extracted_match over the answers, and their bootstrap intervals."""
    rouge, exact = rouge_l(predictions, references), exact_match(predictions, references)
    extracted = exact_match([extract(p, known) for p in predictions], references)
    pairs = np.array(predictions, dtype=object), np.array(references, dtype=object)
    metrics = {
        "rouge_l": round(float(rouge.mean()), 4) if len(rouge) else 0.0,
        "bleu": round(bleu(predictions, references), 4),
        "exact_match": round(float(exact.mean()), 4) if len(exact) else 0.0,
        "extracted_match": round(float(extracted.mean()), 4) if len(extracted) else 0.0,
    }
    n = len(predictions)
    intervals = {
        "rouge_l": bootstrap(lambda i: rouge[i].mean(), n, resamples, seed),
        "bleu": bootstrap(lambda i: bleu(list(pairs[0][i]), list(pairs[1][i])), n, resamples, seed),
        "exact_match": bootstrap(lambda i: exact[i].mean(), n, resamples, seed),
        "extracted_match": bootstrap(lambda i: extracted[i].mean(), n, resamples, seed),
    }
    return metrics, {name: interval for name, interval in intervals.items() if interval}
