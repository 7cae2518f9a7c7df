"""deploy for a language model that met the delivery standard: one folder that `AutoModelForCausalLM` and
`AutoTokenizer.from_pretrained` load as is (LoRA merged into the weights; a prompt-tuning adapter kept beside
its base, as it cannot be merged), with the chat template and a generation config, a model card and a
manifest of checksums. Parity: greedy answers from the folder equal the trained model's token for token,
end-of-sequence included, on the first validation prompts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
import torch

from millrace.config.params import Params
from millrace.errors import MillraceError
from millrace.files import atomic_dir, folder_sha256, read_json, sha256, write_json
from millrace.language import base, trained
from millrace.language.dataset import messages_of
from millrace.precision import write_figures

BUNDLE, CARD, MANIFEST = "bundle", "MODEL_CARD.md", "manifest.json"
PARITY_PROMPTS = 3


class DeployRefused(MillraceError):
    """The model did not meet the delivery standard, or the bundle generates differently."""


@torch.no_grad()
def greedy(model, tokenizer, prompt: list[dict[str, str]] | str, max_new_tokens: int) -> list[int]:
    """The token ids a model answers a chat (through the template) or continues a text with, greedily."""
    if isinstance(prompt, str):
        ids = tokenizer(prompt, return_tensors="pt", add_special_tokens=False)
    else:
        ids = tokenizer.apply_chat_template(prompt, add_generation_prompt=True, return_tensors="pt", return_dict=True)
    out = model.generate(
        **ids, max_new_tokens=max_new_tokens, do_sample=False, pad_token_id=tokenizer.pad_token_id,
        eos_token_id=tokenizer.eos_token_id,
    )  # fmt: skip
    return out[0, ids["input_ids"].shape[1] :].tolist()


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
        "Load it with `AutoModelForCausalLM.from_pretrained(folder)` and `AutoTokenizer.from_pretrained(folder)`; "
        "the tokenizer carries the chat template the model was trained with.",
        "",
    ]
    return "\n".join(lines)


def main(params: Params) -> None:
    from millrace.release import naming

    base.quiet()
    evaluation = read_json(Path(params.paths.reports) / "evaluate" / "metrics.json")
    if not evaluation["delivery"]["passed"]:
        raise DeployRefused(
            "refusing to deploy: the model does not meet the delivery standard: "
            + "; ".join(evaluation["delivery"]["reasons"])
        )
    train_dir = Path(params.paths.train)
    info = trained.meta(train_dir)
    tokenizer = trained.load_tokenizer(train_dir)
    model = trained.load(train_dir)
    merged = info["strategy"] in ("lora", "qlora")
    val = pd.read_parquet(Path(params.paths.label) / "val.parquet")
    if info["task"] == "sft":
        prompts = [m[:-1] for m in messages_of(val)[:PARITY_PROMPTS]]
    else:  # a corpus: continue the beginnings of the first validation texts
        prompts = [text[:200] for text in val["text"][:PARITY_PROMPTS]]
    tokens = params.evaluate.generation.max_new_tokens
    expected = [greedy(model, tokenizer, p, tokens) for p in prompts]
    with atomic_dir(params.paths.deploy) as out:
        bundle = Path(out) / BUNDLE
        (model.merge_and_unload() if merged else model).save_pretrained(bundle, safe_serialization=True)
        tokenizer.save_pretrained(bundle)
        if info["weights"] == trained.ADAPTER and not merged:  # prompt tuning: the adapter as saved, over its base
            from peft import PeftModel

            loaded = PeftModel.from_pretrained(base.load_model(base.resolve(info["pretrained"])), bundle).eval()
        else:
            from transformers import AutoModelForCausalLM

            loaded = AutoModelForCausalLM.from_pretrained(bundle, dtype="float32").eval()
        from transformers import AutoTokenizer

        again = AutoTokenizer.from_pretrained(bundle)
        got = [greedy(loaded, again, p, tokens) for p in prompts]
        equal = sum(a == b for a, b in zip(expected, got, strict=True))
        if equal != len(prompts):
            raise DeployRefused(
                f"refusing to deploy: the bundle's greedy answers differ from the trained model's on "
                f"{len(prompts) - equal} of {len(prompts)} validation prompts"
            )
        name = naming.model_name(params)
        source = params.data.source.model_dump(mode="json")
        manifest = info | {
            "model_name": name,
            "data": source.get("path") or source.get("name") or source.get("kind"),
            "merged": merged,
            "parity": {"prompts": len(prompts), "identical_greedy_answers": equal},
            "delivery": evaluation["delivery"],
        }
        (Path(out) / CARD).write_text(card(manifest, evaluation))
        manifest["files"] = {BUNDLE + "/": folder_sha256(bundle), CARD: sha256(Path(out) / CARD)}
        manifest["version"] = manifest["files"][BUNDLE + "/"][:12]  # the bundle's content, as a name
        write_json(Path(out) / MANIFEST, manifest)
    size = sum(p.stat().st_size for p in Path(params.paths.deploy).rglob("*") if p.is_file())
    report = {
        "parity": manifest["parity"],
        "bundle_bytes": size,
        "release": "none: language-model releases and serving are not built yet",
        "variants": "none: deploy.variants (int8, pruned) are not built for a language model yet",
    }
    write_figures(Path(params.paths.reports) / "deploy.json", report)
    print(f"deploy: {params.paths.deploy}/{BUNDLE} generates as trained on {equal} of {len(prompts)} prompts")
