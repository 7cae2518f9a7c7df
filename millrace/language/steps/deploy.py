"""deploy for a language model that met the delivery standard: one folder that `AutoModelForCausalLM` and
`AutoTokenizer.from_pretrained` load as is (LoRA merged into the weights; a prompt-tuning adapter kept beside
its base, as it cannot be merged), with the chat template and a generation config whose end-of-sequence ids are
the tokenizer's, the unmerged LoRA adapter beside it (`adapter/`, for users who keep the base), a model card
and a manifest of checksums. Parity: greedy answers from the folder equal the trained model's token for token,
end-of-sequence included, on the first validation prompts. The int8 variant (`deploy.variants`; made from these
weights when served with `serve.variant: int8`) is measured on the validation split and kept only within
`deploy.perplexity_tolerance`.

The bundle is registered as a release of its named model (`deploy.model_name`, or `<dataset>-<task>`), which
`millrace serve` serves with the OpenAI API; a name that holds another kind of model's releases is refused.
Inside `dvc exp run` nothing is registered.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pandas as pd

from millrace.config.params import TRAINING_SECTIONS, Params
from millrace.errors import MillraceError
from millrace.files import atomic_dir, folder_sha256, read_json, sha256, write_json
from millrace.language import base, decoding, judging, quantised, release_files, tokens, trained
from millrace.language.dataset import messages_of
from millrace.language.release_files import BUNDLE, MANIFEST
from millrace.precision import write_figures
from millrace.release import lineage, naming, registry

ADAPTER, CARD = "adapter", "MODEL_CARD.md"
PARITY_PROMPTS = 3
MANIFEST_PARAMS = TRAINING_SECTIONS | {"deploy"}  # what made the model and the bundle, as table models record


class DeployRefused(MillraceError):
    """The model did not meet the delivery standard, or the bundle generates differently."""


def greedy(model, tokenizer, prompt: list[dict[str, str]] | str, max_new_tokens: int) -> list[int]:
    """The token ids a model answers a chat (through the template) or continues a text with, greedily, by the
    decoding loop evaluate and the server use."""
    return decoding.answer(model, tokenizer, prompt, decoding.Sampling(max_tokens=max_new_tokens))


def card(info: dict[str, Any], evaluation: dict[str, Any]) -> str:
    test, before = evaluation["test"], evaluation["base"]
    lines = [
        f"# {info['model_name']}",
        "",
        f"- Base: {info['base']}",
        f"- Task: {info['task']}; strategy: {info['strategy']} ({info['trainable_params']:,} of "
        f"{info['total_params']:,} parameters trained)",
        f"- Data: {info['data']}",
        "",
        "| metric (test split) | base | tuned |",
        "|---|---|---|",
    ]
    for name in ("perplexity", "rouge_l", "bleu", "exact_match"):
        if name in test:
            lines.append(f"| {name} | {before[name]:.4f} | {test[name]:.4f} |")
    lines += [
        f"| perplexity on the control text | {before['control_perplexity']:.4f} | "
        f"{evaluation['tuned']['control_perplexity']:.4f} |",
        "",
        f"- Reviewers: {reviewed(evaluation.get('review'))}",
    ]
    for name, figures in (info.get("variants") or {}).items():
        verdict = figures.get("refused") or (
            f"kept: validation perplexity {figures['fp32_validation_perplexity']:.4g} → "
            f"{figures['validation_perplexity']:.4g}; serve it with `serve.variant: {name}`"
        )
        lines.append(f"- Variant {name}: {verdict}")
    lines += [
        "",
        "Load it with `AutoModelForCausalLM.from_pretrained(folder)` and `AutoTokenizer.from_pretrained(folder)`; "
        "the tokenizer carries the chat template the model was trained with.",
        "",
    ]
    return "\n".join(lines)


def reviewed(review: dict[str, Any] | None) -> str:
    """The review's verdict in a sentence: the tuned model's win rate over the base, or why there is none."""
    if not review:
        return "no review (a corpus model answers no prompts)"
    if "win_rate" not in review:
        return f"no current preferences yet ({review.get('stale', 0)} stale); see reports/review.html"
    low_high = review.get("interval") or {}
    band = f" ({low_high['low']:.2f}–{low_high['high']:.2f})" if low_high else ""
    return f"the tuned model won {review['win_rate']:.2f}{band} of {review['current']} blind comparisons with the base"


def main(params: Params) -> None:
    base.quiet()
    evaluation = read_json(Path(params.paths.reports) / "evaluate" / "metrics.json")
    if not evaluation["delivery"]["passed"]:
        raise DeployRefused(
            "refusing to deploy: the model does not meet the delivery standard: "
            + "; ".join(evaluation["delivery"]["reasons"])
        )
    train_dir = Path(params.paths.train)
    info = trained.meta(train_dir)
    home = Path(params.paths.releases) / naming.model_name(params)
    if not os.environ.get("DVC_EXP_NAME"):
        check_same_kind(home, home.name, info["task"])
    tokenizer = trained.load_tokenizer(train_dir)
    model = trained.load(train_dir)
    merged = info["strategy"] in ("lora", "qlora")
    ends = model.generation_config  # what `generate()` stops at, saved with the weights: the tokenizer's EOS
    ends.eos_token_id, ends.pad_token_id = tokenizer.eos_token_id, tokenizer.pad_token_id
    val = pd.read_parquet(Path(params.paths.label) / "val.parquet")
    if info["task"] == "sft":
        prompts = [m[:-1] for m in messages_of(val)[:PARITY_PROMPTS]]
    else:  # a corpus: continue the beginnings of the first validation texts
        prompts = [text[:200] for text in val["text"][:PARITY_PROMPTS]]
    length = params.evaluate.generation.max_new_tokens
    expected = [greedy(model, tokenizer, p, length) for p in prompts]
    with atomic_dir(params.paths.deploy) as out:
        bundle = Path(out) / BUNDLE
        weights = release_files.save(Path(out), model.merge_and_unload() if merged else model, tokenizer)
        if merged:
            shutil.copytree(train_dir / trained.ADAPTER, Path(out) / ADAPTER)
        if info["weights"] == trained.ADAPTER and not merged:  # prompt tuning: the adapter as saved, over its base
            from peft import PeftModel

            from millrace.language.strategies import peft_quietly

            over = base.load_model(base.resolve(info["pretrained"]))
            loaded = peft_quietly(PeftModel.from_pretrained, over, bundle).eval()
        else:
            from transformers import AutoModelForCausalLM

            loaded = AutoModelForCausalLM.from_pretrained(bundle, dtype="float32").eval()
        from transformers import AutoTokenizer

        again = AutoTokenizer.from_pretrained(bundle)
        got = [greedy(loaded, again, p, length) for p in prompts]
        equal = sum(a == b for a, b in zip(expected, got, strict=True))
        if equal != len(prompts):
            raise DeployRefused(
                f"refusing to deploy: the bundle's greedy answers differ from the trained model's on "
                f"{len(prompts) - equal} of {len(prompts)} validation prompts"
            )
        pad = again.pad_token_id if again.pad_token_id is not None else again.eos_token_id
        built = variants(loaded, tokens.read(Path(params.paths.label), "val"), pad, params.deploy)
        name = naming.model_name(params)
        source = params.data.source.model_dump(mode="json")
        manifest = (
            info
            | release_files.named(weights)
            | {  # the bundle's content, as a name
                "model_name": name,
                "data": source.get("path") or source.get("name") or source.get("kind"),
                "merged": merged,
                "parity": {"prompts": len(prompts), "identical_greedy_answers": equal},
                "variants": built,
                "delivery": evaluation["delivery"],
                "metrics": {"test": evaluation["test"], "base": evaluation["base"]},
                "lineage": {"data": lineage.data_hashes(params.paths.label, params.paths.train)},
                "params": params.model_dump(mode="json", include=MANIFEST_PARAMS),
            }
        )
        (Path(out) / CARD).write_text(card(manifest, evaluation))
        manifest["files"][CARD] = sha256(Path(out) / CARD)
        if merged:
            manifest["files"][ADAPTER + "/"] = folder_sha256(Path(out) / ADAPTER)
        write_json(Path(out) / MANIFEST, manifest)
    size = sum(p.stat().st_size for p in Path(params.paths.deploy).rglob("*") if p.is_file())
    report = {
        "parity": manifest["parity"],
        "bundle_bytes": size,
        "release": release(params, home, manifest["version"]),
        "variants": built,
    }
    write_figures(Path(params.paths.reports) / "deploy.json", report)
    print(f"deploy: {params.paths.deploy}/{BUNDLE} generates as trained on {equal} of {len(prompts)} prompts; "
          f"release: {report['release']}")  # fmt: skip


def variants(model, val: list, pad_id: int, settings) -> dict[str, dict[str, Any]]:
    """Each of `deploy.variants` measured against the float bundle on the validation split's tokens: int8 kept
    within `deploy.perplexity_tolerance`; pruning is not built for a language model."""
    found: dict[str, dict[str, Any]] = {}
    for name in settings.variants:
        if name != "int8":
            found[name] = {"refused": f"{name} is not built for a language model; deploy.variants: [int8] or []"}
            continue
        fp32 = judging.perplexity(judging.example_losses(model, val, pad_id))
        int8 = judging.perplexity(judging.example_losses(quantised.int8(model), val, pad_id))
        increase = int8 / fp32 - 1
        figures = {"validation_perplexity": int8, "fp32_validation_perplexity": fp32, "increase": increase}
        if increase > settings.perplexity_tolerance:
            figures["refused"] = (
                f"validation perplexity {fp32:.4g} → {int8:.4g} (+{increase:.1%}), more than "
                f"deploy.perplexity_tolerance ({settings.perplexity_tolerance:.0%})"
            )
        found[name] = figures
    return found


def check_same_kind(home: Path, name: str, task: str) -> None:
    """A name is one model: a language model may not take over a table model's releases, nor the reverse."""
    current = registry.active_dir(home)
    if current is None:
        return
    theirs = read_json(current / MANIFEST).get("task")
    if theirs != task:
        raise DeployRefused(
            f"refusing to deploy: model {name!r} is a {theirs} model (active release {current.name}); this one is a "
            f"{task} language model. Set deploy.model_name to a name of its own, or null for <dataset>-<task>"
        )


def release(params: Params, home: Path, version: str) -> str | dict[str, Any]:
    """Register the bundle as a release of its model and, with `deploy.promote: auto`, make it the active one."""
    experiment = os.environ.get("DVC_EXP_NAME")  # dvc exp run sets it for the stages it runs
    if experiment:
        return f"none: inside experiment {experiment!r}"
    registered = lineage.register(params, home, "deploy")
    if params.deploy.promote == "auto" and registry.active(home) != registered:
        registry.promote(home, registered, "deploy: met the delivery standard")
    return {"model": home.name, "version": registered, "active": registry.active(home) == registered}
