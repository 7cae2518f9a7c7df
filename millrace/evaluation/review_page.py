"""The subjective review: a self-contained HTML page of deliberately chosen test samples, and reviewer verdicts.

Per class it shows the most confident errors and the least confident correct predictions (for
regression: the largest and smallest errors), plus samples from the worst slice, each with its
input (an image as a thumbnail, text with the words most tied to the predicted and true class
highlighted, or the row's values), the truth, the prediction and the probabilities. A reviewer
marks each prediction ok / wrong / unsure on the page and downloads `verdicts.csv`; appended to
`reports/review_verdicts.csv`, the next evaluate run folds the verdicts in: a verdict counts while
the model still makes the prediction it judged, and `evaluate.review.max_wrong` can make "wrong"
verdicts part of the delivery standard.
"""

from __future__ import annotations

import base64
import html
import io
import json
import re
from collections import Counter
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from millrace.errors import MillraceError
from millrace.labelling.row_ids import row_hash_ids

VERDICTS = ("ok", "wrong", "unsure")
VERDICTS_FILE = "review_verdicts.csv"  # under paths.reports, committed to git; a dependency of evaluate
VERDICT_COLUMNS = ["sample_id", "predicted", "verdict", "note", "reviewer"]
HIGHLIGHTED_WORDS = 15
THUMBNAIL = 96


def sample_ids(test: pd.DataFrame) -> pd.Series:
    """A test row's identity across runs: a hash of its inputs (not of its label or position)."""
    return row_hash_ids(test.drop(columns=["label"], errors="ignore"))


def choose(
    test: pd.DataFrame, outputs: np.ndarray, classes: list[str], per_class: int, worst: dict | None
) -> pd.DataFrame:
    """The samples to review: position in `test`, why it was chosen, and how the model did."""
    actual = test["label"].to_numpy()
    rows: list[dict[str, Any]] = []
    if classes:
        predicted = outputs.argmax(1)
        confidence = outputs.max(1)
        for class_id, name in enumerate(classes):
            mine = np.flatnonzero(actual == class_id)
            wrong = mine[predicted[mine] != class_id]
            right = mine[predicted[mine] == class_id]
            for i in wrong[np.argsort(-confidence[wrong], kind="stable")][:per_class]:
                rows.append({"position": i, "section": f"{name}: most confident errors"})
            for i in right[np.argsort(confidence[right], kind="stable")][:per_class]:
                rows.append({"position": i, "section": f"{name}: least confident correct"})
    else:
        error = np.abs(outputs - actual)
        order = np.argsort(-error, kind="stable")
        rows += [{"position": i, "section": "largest errors"} for i in order[: per_class * 3]]
        rows += [{"position": i, "section": "smallest errors"} for i in order[::-1][:per_class]]
    if worst and worst["column"] in test.columns:
        column, value = worst["column"], worst["value"]
        inside = np.flatnonzero(test[column].astype("str").to_numpy() == str(value))
        rows += [{"position": i, "section": f"worst slice: {column} = {value}"} for i in inside[:per_class]]
    return pd.DataFrame(rows, columns=["position", "section"]).astype({"position": int})


def class_words(train: pd.DataFrame, column: str, classes: list[str]) -> dict[int, set[str]]:
    """Per class, the words whose smoothed log-odds against the other classes are highest in training."""
    counts = {c: Counter() for c in range(len(classes))}
    for text, label in zip(train[column].astype("str"), train["label"], strict=True):
        counts[int(label)].update(re.findall(r"[a-z']+", text.lower()))
    total = sum(counts.values(), Counter())
    vocabulary = len(total) or 1
    words = {}
    for c, mine in counts.items():
        n_mine, n_rest = sum(mine.values()), sum(total.values()) - sum(mine.values())
        score = {
            w: np.log((mine[w] + 1) / (n_mine + vocabulary)) - np.log((total[w] - mine[w] + 1) / (n_rest + vocabulary))
            for w in mine
        }
        words[c] = set(sorted(score, key=score.get, reverse=True)[:HIGHLIGHTED_WORDS])
    return words


def _text(value: str, predicted: set[str], true: set[str]) -> str:
    def mark(match: re.Match) -> str:
        word = match.group(0)
        lower = word.lower()
        if lower in predicted:
            return f'<mark class="p">{word}</mark>'
        return f'<mark class="t">{word}</mark>' if lower in true else word

    return re.sub(r"[A-Za-z']+", mark, html.escape(value))


def _image(data: bytes) -> str:
    from millrace.inputs.images import open_image

    image = open_image(data)
    image.thumbnail((THUMBNAIL, THUMBNAIL))
    scale = max(1, THUMBNAIL // max(image.size))  # tiny images (8×8 digits) are enlarged, pixels kept sharp
    image = image.resize((image.size[0] * scale, image.size[1] * scale), 0)
    buffer = io.BytesIO()
    image.save(buffer, format="PNG")
    return f'<img alt="input" src="data:image/png;base64,{base64.b64encode(buffer.getvalue()).decode()}">'


def _values(row: pd.Series, columns: list[str]) -> str:
    cells = "".join(f"<tr><th>{html.escape(c)}</th><td>{html.escape(str(row[c]))}</td></tr>" for c in columns)
    return f'<table class="values">{cells}</table>'


def read_verdicts(path: Path | str | None) -> pd.DataFrame:
    """The reviewers' CSV (sample_id, predicted, verdict, note, reviewer); empty when there is none yet."""
    if path is None or not Path(path).is_file():
        return pd.DataFrame(columns=VERDICT_COLUMNS)
    where = str(path)
    try:
        frame = pd.read_csv(path, dtype="str", keep_default_na=False)
    except (ValueError, OSError) as exc:
        raise MillraceError(f"{where}: cannot read as CSV: {exc}") from None
    missing = [c for c in VERDICT_COLUMNS[:3] if c not in frame.columns]
    if missing:
        raise MillraceError(f"{where}: no column(s) {missing}; expected {VERDICT_COLUMNS}")
    bad = frame[~frame["verdict"].isin(VERDICTS)]
    if len(bad):
        raise MillraceError(
            f"{where}: line {bad.index[0] + 2}: verdict {bad['verdict'].iloc[0]!r} is not one of {VERDICTS}"
        )
    return frame.reindex(columns=VERDICT_COLUMNS).fillna("")


def fold_in(verdicts: pd.DataFrame, ids: pd.Series, predictions: list[str]) -> dict[str, Any]:
    """Verdicts on predictions the model still makes count; those on changed predictions are stale."""
    current = dict(zip(ids, predictions, strict=True))
    latest = verdicts.drop_duplicates("sample_id", keep="last")
    still = [current.get(s) == p for s, p in zip(latest["sample_id"], latest["predicted"], strict=True)]
    live = latest.loc[np.array(still, dtype=bool)]
    counts = {v: int((live["verdict"] == v).sum()) for v in VERDICTS}
    wrong = live[live["verdict"] == "wrong"]
    return {
        "verdicts": len(latest),
        "current": len(live),
        "stale": len(latest) - len(live),
        **counts,
        "wrong_samples": [
            {"sample_id": s, "predicted": p, "note": n} for s, p, n in wrong[["sample_id", "predicted", "note"]].values
        ],
    }


def _bars(classes: list[str], probabilities: np.ndarray) -> str:
    rows = []
    for i in np.argsort(-probabilities)[:4]:
        width = f"{probabilities[i] * 100:.0f}%"
        rows.append(
            f'<div class="bar"><span>{html.escape(classes[i])}</span><i style="width:{width}"></i>'
            f"<b>{probabilities[i]:.2f}</b></div>"
        )
    return "".join(rows)


def _input(row: pd.Series, plan, columns: list[str], highlight: tuple[set[str], set[str]]) -> str:
    if plan.kind == "image":
        return _image(row[plan.column])
    if plan.kind == "text":
        return f'<p class="text">{_text(str(row[plan.column]), *highlight)}</p>'
    return _values(row, columns)


def _verdict(sample: str, predicted: str, previous: pd.DataFrame) -> str:
    """Radio buttons and a note, prefilled with a verdict on this same prediction."""
    old = previous.loc[sample] if sample in previous.index else None
    choice = old["verdict"] if old is not None and old["predicted"] == predicted else ""
    note = html.escape(old["note"]) if choice else ""
    radios = "".join(
        f'<label><input type="radio" name="v{sample}" value="{v}"{" checked" if v == choice else ""}> {v}</label>'
        for v in VERDICTS
    )
    return f'<div class="verdict">{radios}<input class="note" placeholder="note" value="{note}"></div>'


def render(test: pd.DataFrame, outputs: np.ndarray, chosen: pd.DataFrame, trained, train, verdicts, title: str) -> str:
    """The page: one card per chosen sample, grouped by why it was chosen."""
    classes, plan = trained.classes, trained.plan
    ids = sample_ids(test)
    words = class_words(train, plan.column, classes) if plan.kind == "text" and classes else {}
    previous = verdicts.drop_duplicates("sample_id", keep="last").set_index("sample_id")
    columns = [c for c in test.columns if c != "label"]
    cards, section = [], None
    for position, reason in chosen[["position", "section"]].itertuples(index=False):
        row, sample = test.iloc[position], ids.iloc[position]
        if reason != section:
            cards.append(f"<h2>{html.escape(reason)}</h2>")
            section = reason
        highlight: tuple[set[str], set[str]] = (set(), set())
        if classes:
            guess, actual = int(outputs[position].argmax()), int(row["label"])
            predicted, truth = classes[guess], classes[actual]
            bars = _bars(classes, outputs[position])
            highlight = (words.get(guess, set()), words.get(actual, set()) if guess != actual else set())
        else:
            predicted, truth = f"{outputs[position]:.4g}", f"{row['label']:.4g}"
            bars = f"<div>error {outputs[position] - row['label']:+.4g}</div>"
        shown, said = html.escape(truth), html.escape(predicted)
        cards.append(
            f'<div class="card {"ok" if predicted == truth else "miss"}" data-id="{sample}" data-predicted="{said}">'
            f'<div class="input">{_input(row, plan, columns, highlight)}</div>'
            f'<div class="meta"><div>truth <b>{shown}</b> · predicted <b>{said}</b></div>'
            f"{bars}{_verdict(sample, predicted, previous)}<small>{sample}</small></div></div>"
        )
    legend = '<p><mark class="p">predicted class</mark> <mark class="t">true class</mark> words</p>' if words else ""
    body = "\n".join(cards)
    return PAGE.format(title=html.escape(title), legend=legend, cards=body, columns=json.dumps(VERDICT_COLUMNS))


PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font:14px/1.4 system-ui,sans-serif;margin:2em;max-width:1100px}} h2{{margin-top:1.5em;font-size:1.1em}}
.card{{display:flex;gap:1em;border:1px solid #ccc;border-left:6px solid #4a4;padding:.6em;margin:.4em 0}}
.card.miss{{border-left-color:#c33}} .input{{flex:1}} .meta{{width:340px}} .text{{margin:0}}
img{{image-rendering:pixelated;border:1px solid #999}} mark.p{{background:#bde}} mark.t{{background:#fc9}}
.bar{{display:flex;align-items:center;gap:.4em}} .bar span{{width:90px;overflow:hidden}}
.bar i{{display:inline-block;height:.8em;background:#68a;max-width:150px}}
table.values th{{text-align:left;padding-right:1em}}
.verdict{{margin-top:.4em}} .note{{width:95%}} small{{color:#888}}
</style></head><body>
<h1>{title}</h1>
<p>Mark each prediction, then <button id="save">download verdicts.csv</button> and append its rows to
<code>reports/review_verdicts.csv</code>; the next <code>dvc repro</code> folds them into the report.</p>{legend}
{cards}
<script>
document.getElementById("save").onclick = () => {{
  const who = prompt("reviewer name") || "";
  const quote = s => '"' + String(s).replaceAll('"', '""') + '"';
  const lines = [{columns}.join(",")];
  for (const card of document.querySelectorAll(".card")) {{
    const picked = card.querySelector("input[type=radio]:checked");
    if (!picked) continue;
    const note = card.querySelector(".note").value;
    lines.push([card.dataset.id, card.dataset.predicted, picked.value, note, who].map(quote).join(","));
  }}
  const link = document.createElement("a");
  link.href = URL.createObjectURL(new Blob([lines.join("\\n") + "\\n"], {{type: "text/csv"}}));
  link.download = "verdicts.csv";
  link.click();
}};
</script></body></html>
"""
