"""The blind review of a fine-tuned language model, and the reviewers' preferences as a win rate.

The page shows the base's and the tuned model's answers to the same test prompts as "A" and "B", in an order
drawn per prompt from the seed, so a reviewer cannot tell which is which (the side is kept in
reports/evaluate/metrics.json). A reviewer picks the better answer (A, B or tie) against the delivery standard
and downloads `preferences.csv`; appended to `reports/review_preferences.csv`, the next evaluate run folds the
preferences in. A preference counts while the two answers it compared are still the ones shown (its `pair` is
their digest); the tuned model's win rate counts a tie as half a win, with a bootstrap interval, and
`evaluate.review.min_win_rate` can make it part of the delivery standard.
"""

from __future__ import annotations

import hashlib
import html
import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from millrace.errors import MillraceError
from millrace.language.judging import bootstrap

REVIEWED = 20  # prompts on the page
PREFERENCES_FILE = "review_preferences.csv"  # under paths.reports, committed to git; a dependency of evaluate
COLUMNS = ["prompt_id", "pair", "preferred", "note", "reviewer"]
CHOICES = ("A", "B", "tie")


def digest(*texts: str) -> str:
    return hashlib.sha256("\0".join(texts).encode()).hexdigest()[:16]


def tuned_side(seed: int, prompt: str) -> str:
    """A or B: where the tuned model's answer stands for this prompt (the same every run of the same seed)."""
    return "A" if hashlib.sha256(f"{seed}:{prompt}".encode()).digest()[0] % 2 == 0 else "B"


def pairs(prompts: list[str], references: list[str], base: list[str], tuned: list[str], seed: int) -> list[dict]:
    found = []
    for prompt, reference, before, after in list(zip(prompts, references, base, tuned, strict=True))[:REVIEWED]:
        side = tuned_side(seed, prompt)
        a, b = (after, before) if side == "A" else (before, after)
        found.append(
            {"prompt": prompt, "reference": reference, "A": a, "B": b, "tuned": side, "id": digest(prompt),
             "pair": digest(a, b)}
        )  # fmt: skip
    return found


def read_preferences(path: Path | str) -> pd.DataFrame:
    """The reviewers' CSV; empty when there is none yet. A preference that is not A, B or tie is an error."""
    if not Path(path).is_file():
        return pd.DataFrame(columns=COLUMNS)
    try:
        frame = pd.read_csv(path, dtype="str", keep_default_na=False)
    except (ValueError, OSError) as exc:
        raise MillraceError(f"{path}: cannot read as CSV: {exc}") from None
    missing = [c for c in COLUMNS[:3] if c not in frame.columns]
    if missing:
        raise MillraceError(f"{path}: no column(s) {missing}; expected {COLUMNS}")
    bad = frame[~frame["preferred"].isin(CHOICES)]
    if len(bad):
        raise MillraceError(f"{path}: line {bad.index[0] + 2}: {bad['preferred'].iloc[0]!r} is not one of {CHOICES}")
    return frame.reindex(columns=COLUMNS).fillna("")


def win_rate(preferences: pd.DataFrame, reviewed: list[dict], resamples: int, seed: int) -> dict[str, Any]:
    """The tuned model's share of the current preferences (a tie: half), and how many are current or stale."""
    shown = {p["id"]: p for p in reviewed}
    latest = preferences.drop_duplicates("prompt_id", keep="last")
    current = [(shown[i], choice) for i, pair, choice in latest[["prompt_id", "pair", "preferred"]].values
               if i in shown and shown[i]["pair"] == pair]  # fmt: skip
    scores = np.array([0.5 if choice == "tie" else float(choice == p["tuned"]) for p, choice in current])
    found: dict[str, Any] = {"preferences": len(latest), "current": len(current), "stale": len(latest) - len(current)}
    if len(scores):
        found["win_rate"] = round(float(scores.mean()), 4)
        found["interval"] = bootstrap(lambda i: scores[i].mean(), len(scores), resamples, seed)
    return found


def render(reviewed: list[dict[str, Any]], title: str) -> str:
    rows = "".join(
        f'<section data-id="{p["id"]}" data-pair="{p["pair"]}"><h2>Prompt {i + 1}</h2>'
        f"<pre>{html.escape(p['prompt'])}</pre><p><b>Reference</b></p><pre>{html.escape(p['reference'])}</pre>"
        f"<div class=pair><div><p><b>A</b></p><pre>{html.escape(p['A'])}</pre></div>"
        f"<div><p><b>B</b></p><pre>{html.escape(p['B'])}</pre></div></div>"
        + "".join(f'<label><input type=radio name="{p["id"]}" value="{c}"> {c}</label> ' for c in CHOICES)
        + '<input class=note placeholder="note"></section>'
        for i, p in enumerate(reviewed)
    )
    return PAGE.format(title=html.escape(title), rows=rows, columns=json.dumps(COLUMNS), file=PREFERENCES_FILE)


PAGE = """<!doctype html><meta charset=utf-8><title>{title}</title>
<style>body{{font-family:sans-serif;max-width:70em;margin:auto}}pre{{white-space:pre-wrap;background:#f6f6f6;
padding:.5em}}.pair{{display:grid;grid-template-columns:1fr 1fr;gap:1em}}.note{{width:60%}}</style>
<h1>{title}</h1>
<p>Two models answered each prompt: the base and the fine-tuned one, as A and B in an order drawn per prompt.
Pick the better answer against the delivery standard (or tie), then <button id=save>download preferences.csv</button>
and append its rows to <code>reports/{file}</code>; the next <code>dvc repro</code> folds them in as a win rate.</p>
{rows}
<script>
document.getElementById("save").onclick = () => {{
  const who = prompt("reviewer name") || "";
  const quote = s => '"' + String(s).replaceAll('"', '""') + '"';
  const lines = [{columns}.join(",")];
  for (const item of document.querySelectorAll("section")) {{
    const picked = item.querySelector("input[type=radio]:checked");
    if (!picked) continue;
    const note = item.querySelector(".note").value;
    lines.push([item.dataset.id, item.dataset.pair, picked.value, note, who].map(quote).join(","));
  }}
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([lines.join("\\n") + "\\n"], {{type: "text/csv"}}));
  link.download = "preferences.csv";
  link.click();
}};
</script>
"""
