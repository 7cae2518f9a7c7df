"""The blind review of a fine-tuned language model: the base's and the tuned model's answers to the same test
prompts side by side, as "A" and "B" in an order drawn per prompt from the seed, so a reviewer cannot tell which
is which. Which side is the tuned model is kept out of the page (in reports/evaluate/metrics.json).
"""

from __future__ import annotations

import hashlib
import html
from typing import Any

REVIEWED = 20  # prompts on the page


def tuned_side(seed: int, prompt: str) -> str:
    """A or B: where the tuned model's answer stands for this prompt (the same every run of the same seed)."""
    return "A" if hashlib.sha256(f"{seed}:{prompt}".encode()).digest()[0] % 2 == 0 else "B"


def pairs(prompts: list[str], references: list[str], base: list[str], tuned: list[str], seed: int) -> list[dict]:
    found = []
    for prompt, reference, before, after in list(zip(prompts, references, base, tuned, strict=True))[:REVIEWED]:
        side = tuned_side(seed, prompt)
        a, b = (after, before) if side == "A" else (before, after)
        found.append({"prompt": prompt, "reference": reference, "A": a, "B": b, "tuned": side})
    return found


def render(reviewed: list[dict[str, Any]], title: str) -> str:
    rows = "".join(
        f"<section><h2>Prompt {i + 1}</h2><pre>{html.escape(p['prompt'])}</pre>"
        f"<p><b>Reference</b></p><pre>{html.escape(p['reference'])}</pre>"
        f"<div class=pair><div><p><b>A</b></p><pre>{html.escape(p['A'])}</pre></div>"
        f"<div><p><b>B</b></p><pre>{html.escape(p['B'])}</pre></div></div></section>"
        for i, p in enumerate(reviewed)
    )
    style = (
        "body{font-family:sans-serif;max-width:70em;margin:auto}pre{white-space:pre-wrap;background:#f6f6f6;"
        "padding:.5em}.pair{display:grid;grid-template-columns:1fr 1fr;gap:1em}"
    )
    intro = (
        "<p>Two models answered each prompt: the base and the fine-tuned one, as A and B in an order drawn per "
        "prompt. Judge which answer is better against the delivery standard before looking anything up.</p>"
    )
    return f"<!doctype html><meta charset=utf-8><title>{html.escape(title)}</title><style>{style}</style>" \
        f"<h1>{html.escape(title)}</h1>{intro}{rows}\n"  # fmt: skip
