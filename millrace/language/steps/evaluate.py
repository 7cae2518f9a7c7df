"""evaluate for a language model: perplexity before and after, on the test split and on an unrelated control
text; for fine-tuning, answers generated for the test prompts by the base (after `evaluate.generation.base_shots`
training examples as earlier turns: a fair chance at the answers' format) and by the tuned model, scored as
written and as read leniently (judging.extract); the delivery standard; the blind review page; the training
examples the tuned model finds hardest (likely bad data).

The control text (millrace/language/control.txt, prose written for this purpose, unrelated to any dataset) tells
learning the domain from repairing the base: if its perplexity falls as much as the test split's, the gain is
not the domain's.
"""

from __future__ import annotations

import random
from importlib import resources
from pathlib import Path
from typing import Any

import pandas as pd

from millrace.config.params import Params
from millrace.evaluation.delivery import delivery
from millrace.files import atomic_dir, write_text
from millrace.language import base, judging, review, tokens, trained
from millrace.language.dataset import messages_of
from millrace.language.packing import text_windows
from millrace.precision import write_figures

HARDEST = 10  # training examples listed by their loss


def control_examples(tokenizer, max_length: int):
    text = resources.files("millrace.language").joinpath("control.txt").read_text(encoding="utf-8")
    return text_windows(tokenizer, " ".join(text.split()), max_length)


def shot_rows(rows: int, shots: int, seed: int) -> list[int]:
    """Which training examples the base sees first: drawn with the seed, the same every run."""
    return sorted(random.Random(seed).sample(range(rows), min(shots, rows)))


def hardest(model, label_dir: Path, pad_id: int, task: str) -> list[dict[str, Any]]:
    """The training examples with the highest loss per learned token, with their text."""
    frame = pd.read_parquet(label_dir / "train.parquet")
    examples = tokens.read(label_dir, "train")
    if task != "sft" or len(examples) != len(frame):
        return []
    losses = judging.example_losses(model, examples, pad_id)
    per_token = [loss / max(n, 1) for loss, n in losses]
    order = sorted(range(len(per_token)), key=lambda i: -per_token[i])[:HARDEST]
    return [
        {"example": i + 1, "loss": round(per_token[i], 4), "prompt": frame["prompt"][i], "answer": frame["answer"][i]}
        for i in order
    ]


def main(params: Params) -> None:
    base.quiet()
    train_dir, label_dir = Path(params.paths.train), Path(params.paths.label)
    info = trained.meta(train_dir)
    tokenizer = trained.load_tokenizer(train_dir)
    pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
    test = tokens.read(label_dir, "test")
    control = control_examples(tokenizer, info["max_length"])
    resamples, seed = params.evaluate.bootstrap, params.seed
    models = {"base": base.load_model(base.resolve(info["pretrained"])), "tuned": trained.load(train_dir)}
    report: dict[str, Any] = {"task": info["task"], "model": {k: info[k] for k in ("family", "base", "strategy")}}
    report["model"] |= {k: info[k] for k in ("trainable_params", "total_params")}
    perplexities, test_losses = [], {}
    for name, model in models.items():
        test_losses[name] = judging.example_losses(model, test, pad)
        control_losses = judging.example_losses(model, control, pad)
        report[name] = {
            "perplexity": round(judging.perplexity(test_losses[name]), 4),
            "control_perplexity": round(judging.perplexity(control_losses), 4),
        }
        perplexities += [
            {"model": name, "text": "test", "perplexity": report[name]["perplexity"]},
            {"model": name, "text": "control", "perplexity": report[name]["control_perplexity"]},
        ]
    intervals = {
        name: {"perplexity": judging.perplexity_interval(test_losses[name], resamples, seed)} for name in models
    }
    page = "<!doctype html><title>Review</title><p>Continued pretraining: no answers to review.</p>\n"
    if info["task"] == "sft":
        frame = pd.read_parquet(label_dir / "test.parquet")
        limit = params.evaluate.generation.max_examples
        chats = messages_of(frame)[: limit or None]
        prompts, references = [m[:-1] for m in chats], [m[-1]["content"] for m in chats]
        generation = params.evaluate.generation
        settings = judging.GenerationSettings(**generation.model_dump(exclude={"max_examples", "base_shots"}))
        train = messages_of(pd.read_parquet(label_dir / "train.parquet"))
        known = judging.choices([chat[-1]["content"] for chat in train])
        shots = [train[i] for i in shot_rows(len(train), generation.base_shots, seed)]
        asked = {"base": [judging.with_shots(p, shots) for p in prompts], "tuned": prompts}
        said = {name: judging.answers(model, tokenizer, asked[name], settings, seed) for name, model in models.items()}
        for name in models:
            metrics, found = judging.scores(said[name], references, resamples, seed, known)
            report[name] |= metrics
            intervals[name] |= found
        report["base_prompt"] = {"shots": len(shots), "answers_read_from": "known answers" if known else "first line"}
        shown = frame["prompt"][: len(chats)].tolist()
        reviewed = review.pairs(shown, references, said["base"], said["tuned"], seed)
        page = review.render(reviewed, f"Review: {info['base']} before and after {info['strategy']} fine-tuning")
        preferences = review.read_preferences(Path(params.paths.reports) / review.PREFERENCES_FILE)
        report["review"] = {"prompts": len(reviewed), "tuned_side": [p["tuned"] for p in reviewed]}
        report["review"] |= review.win_rate(preferences, reviewed, resamples, seed)
        report["answers"] = [
            {"prompt": p, "reference": r, "base": b, "tuned": t}
            for p, r, b, t in list(zip(shown, references, said["base"], said["tuned"], strict=True))[: review.REVIEWED]
        ]
    report["test"] = {k: v for k, v in report["tuned"].items() if k != "control_perplexity"}
    report["confidence_intervals"] = {k: v for k, v in intervals["tuned"].items() if v}  # what delivery judges
    report["base_intervals"] = {k: v for k, v in intervals["base"].items() if v}
    report["delivery"] = delivery(
        report["test"], params.evaluate, review=report.get("review"), intervals=report["confidence_intervals"]
    )
    report["hardest_training_examples"] = hardest(models["tuned"], label_dir, pad, info["task"])
    out = Path(params.paths.reports) / "evaluate"
    with atomic_dir(out / "plots") as plots:
        pd.DataFrame(perplexities).to_csv(plots / "perplexity.csv", index=False)
    write_figures(out / "metrics.json", report)
    headline = {"test": report["test"], "base": report["base"], "standard_met": report["delivery"]["passed"]}
    write_figures(Path(params.paths.reports) / "metrics.json", headline)
    write_text(Path(params.paths.reports) / "review.html", page)
    before, after = report["base"], report["tuned"]
    print(
        f"evaluate: perplexity on the test split {before['perplexity']:.2f} → {after['perplexity']:.2f}, on the "
        f"control text {before['control_perplexity']:.2f} → {after['control_perplexity']:.2f}"
    )
    if "rouge_l" in after:
        print(
            f"evaluate: ROUGE-L {before['rouge_l']:.3f} → {after['rouge_l']:.3f}, BLEU {before['bleu']:.1f} → "
            f"{after['bleu']:.1f}, exact match {before['exact_match']:.3f} → {after['exact_match']:.3f}"
        )
    verdict = "meets" if report["delivery"]["passed"] else "does NOT meet"
    print(f"model {verdict} the delivery standard: " + "; ".join(report["delivery"]["reasons"]))
