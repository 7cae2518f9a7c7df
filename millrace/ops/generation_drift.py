"""drift for a language model: what it has been asked and how it answered, against what it was trained on.

The request log holds, per answer, the prompt's and the answer's lengths in tokens, the finish reason, whether the
answer was empty, the time to its first token and the request's latency; and each refusal (400, 429). Compared
with the training split, counted in the served model's own tokenizer: the prompt lengths against the training
prompts', the answer lengths against the training answers' (population stability index and Kolmogorov–Smirnov, as
for a table's numbers; over `monitor.psi_threshold` is drift). Reported beside them: the shares of answers cut off
by their token limit (`length`) and of empty ones, the shares of requests refused 400 and 429, and the median and
95th percentile of the time to first token and of the latency. A corpus model (`pretraining`) was trained on
documents, not prompts: its lengths are reported with no reference and judge nothing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from millrace.ops.shift import compare

LENGTHS = ("prompt_tokens", "completion_tokens")


def reference_lengths(label_dir: Path, bundle_dir: Path) -> pd.DataFrame:
    """The training split's prompts and answers, in tokens of the served model's tokenizer, prompts through its
    chat template as the server counts them."""
    from transformers import AutoTokenizer

    from millrace.language import decoding
    from millrace.language.dataset import messages_of

    tokenizer = AutoTokenizer.from_pretrained(bundle_dir)
    chats = messages_of(pd.read_parquet(Path(label_dir) / "train.parquet"))
    return pd.DataFrame(
        {
            "prompt_tokens": [len(decoding.chat_prompt(tokenizer, chat[:-1])) for chat in chats],
            "completion_tokens": [len(decoding.text_prompt(tokenizer, chat[-1]["content"])) + 1 for chat in chats],
        }
    )  # an answer's length counts its end-of-sequence token, as the server's usage does


def run(reference: pd.DataFrame | None, logged: pd.DataFrame, settings) -> dict[str, Any]:
    """The drift of the lengths (none judged without a reference), and how the answers and refusals went."""
    refused = pd.to_numeric(logged.get("refused", pd.Series(np.nan, logged.index)), errors="coerce")
    answered = logged[refused.isna()]
    found: dict[str, Any] = {"answers": _answers(answered, refused, len(logged))}
    if reference is None or len(answered) < settings.min_rows:
        found["features"] = {
            name: {"kind": "numeric", "psi": None, "current_mean": _mean(answered, name), "drifted": False}
            for name in LENGTHS
        }
        found["reason"] = (
            "a corpus model: its training texts are documents, not prompts, so lengths are not judged"
            if reference is None
            else f"{len(answered)} answered requests, fewer than monitor.min_rows: lengths are not judged"
        )
    else:
        found["features"] = compare(reference, answered, {"numeric": list(LENGTHS)}, settings.psi_threshold)
    found["drifted_features"] = sorted(name for name, f in found["features"].items() if f["drifted"])
    found["drifted"] = bool(found["drifted_features"])
    return found


def _answers(answered: pd.DataFrame, refused: pd.Series, logged: int) -> dict[str, Any]:
    def share(mask) -> float:
        return round(float(np.mean(mask)), 4) if len(mask) else 0.0

    reasons = answered.get("finish_reason", pd.Series(dtype=object))
    empty = answered.get("empty", pd.Series(dtype=bool)).fillna(False).astype(bool)
    return {
        "answered": len(answered),
        "truncated_share": share(reasons == "length"),
        "empty_share": share(empty),
        "refused_400_share": share(refused == 400) if logged else 0.0,
        "refused_429_share": share(refused == 429) if logged else 0.0,
        "first_token_ms": _spread(answered.get("first_token_ms")),
        "latency_ms": _spread(answered.get("_latency_ms")),
    }


def _spread(values: pd.Series | None) -> dict[str, float] | None:
    numbers = pd.to_numeric(values, errors="coerce").dropna() if values is not None else pd.Series(dtype=float)
    if numbers.empty:
        return None
    return {"p50": round(float(numbers.quantile(0.5)), 2), "p95": round(float(numbers.quantile(0.95)), 2)}


def _mean(frame: pd.DataFrame, column: str) -> float | None:
    values = pd.to_numeric(frame.get(column), errors="coerce") if column in frame else pd.Series(dtype=float)
    return None if values.dropna().empty else round(float(values.mean()), 4)


def markdown_lines(answers: dict[str, Any]) -> list[str]:
    """How the answers went, as the drift report's second table."""
    lines = ["", "| answers | |", "|---|---|", f"| answered | {answers['answered']} |"]
    shares = {
        "truncated_share": "cut off at the token limit (length)",
        "empty_share": "empty",
        "refused_400_share": "refused 400 (of all requests)",
        "refused_429_share": "refused 429 (busy)",
    }
    lines += [f"| {label} | {answers[key]:.1%} |" for key, label in shares.items()]
    for key, label in (("first_token_ms", "time to first token, ms"), ("latency_ms", "latency, ms")):
        if answers[key]:
            lines.append(f"| {label} | median {answers[key]['p50']}, 95th percentile {answers[key]['p95']} |")
    return lines
