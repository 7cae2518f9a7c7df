"""The splits as tokens, made once by the label stage and read by train and evaluate.

`<paths.label>/tokens/` holds, per split, every example's `input_ids` and `labels` (`<split>.parquet`), with
packing also the packed rows of train and val (`packed_<split>.parquet`, with `position_ids`), and
`manifest.json`: what made them (the tokenizer's fingerprint, the chat template, max_length, packing) and what
they hold (examples, tokens, learned tokens, truncated examples). It is a DVC output of the label stage, whose
params are the data's and the tokenizer's (`model.pretrained`, `model.chat_template`), not the training's: a
learning-rate change never tokenises again. Train checks the fingerprint against the tokenizer it loads.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

import pandas as pd

from millrace.errors import MillraceError
from millrace.files import read_json, write_json, write_parquet
from millrace.language import chat
from millrace.language.chat import IGNORE, Tokenised
from millrace.language.dataset import messages_of
from millrace.language.packing import Packed, pack, text_windows

FOLDER = "tokens"
MANIFEST = "manifest.json"


def fingerprint(tokenizer) -> str:
    """A digest of what turns text into ids: the vocabulary and rules, the special tokens and the chat template."""
    digest = hashlib.sha256(tokenizer.backend_tokenizer.to_str().encode())
    digest.update(repr(sorted(tokenizer.special_tokens_map.items())).encode())
    digest.update((tokenizer.chat_template or "").encode())
    return digest.hexdigest()


def tokenise(tokenizer, frame: pd.DataFrame, task: str, max_length: int, split: str) -> tuple[list, list[dict]]:
    """The split's examples as tokens, and a problem per example that cannot be learned (all found, none
    skipped): the gate reports them together."""
    if task == "pretraining":
        windows = [w for text in frame["text"] for w in text_windows(tokenizer, text, max_length)]
        return windows, []
    examples, problems = [], []
    for number, messages in enumerate(messages_of(frame), start=1):
        try:
            examples.append(chat.tokenise(tokenizer, messages, max_length, f"{split} example {number}"))
        except MillraceError as why:
            problems.append({"split": split, "example": number, "problem": str(why)})
    return examples, problems


def summary(examples: list[Tokenised]) -> dict[str, Any]:
    truncated = sum(example.truncated for example in examples)
    return {
        "examples": len(examples),
        "tokens": sum(len(example.input_ids) for example in examples),
        "learned_tokens": sum(sum(label != IGNORE for label in example.labels[1:]) for example in examples),
        "truncated": truncated,
        "truncated_share": round(truncated / max(len(examples), 1), 4),
    }


def write(folder: Path, splits: dict[str, list[Tokenised]], made_by: dict[str, Any], packing: bool) -> dict:
    """The splits' tokens (and packed rows) and the manifest, which is returned."""
    folder.mkdir(parents=True, exist_ok=True)
    manifest: dict[str, Any] = made_by | {"packing": packing, "splits": {}}
    for name, examples in splits.items():
        frame = pd.DataFrame({"input_ids": [e.input_ids for e in examples], "labels": [e.labels for e in examples]})
        write_parquet(folder / f"{name}.parquet", frame)
        manifest["splits"][name] = summary(examples)
        if packing and name in ("train", "val"):
            rows = pack(examples, made_by["max_length"])
            packed = pd.DataFrame(
                {
                    "input_ids": [r.input_ids for r in rows],
                    "labels": [r.labels for r in rows],
                    "position_ids": [r.position_ids for r in rows],
                    "examples": [r.examples for r in rows],
                }
            )
            write_parquet(folder / f"packed_{name}.parquet", packed)
            manifest["splits"][name]["packed_rows"] = len(rows)
    write_json(folder / MANIFEST, manifest)
    return manifest


def manifest(label_dir: Path) -> dict[str, Any]:
    path = Path(label_dir) / FOLDER / MANIFEST
    if not path.is_file():
        raise MillraceError(f"{path} is missing: the label stage tokenises a language model's splits; run dvc repro")
    return read_json(path)


def read(label_dir: Path, split: str, packed: bool = False) -> list[Tokenised] | list[Packed]:
    folder = Path(label_dir) / FOLDER
    if packed:
        frame = pd.read_parquet(folder / f"packed_{split}.parquet")
        return [
            Packed(list(map(int, i)), list(map(int, lab)), list(map(int, p)), int(n))
            for i, lab, p, n in zip(
                frame["input_ids"], frame["labels"], frame["position_ids"], frame["examples"], strict=True
            )
        ]
    frame = pd.read_parquet(folder / f"{split}.parquet")
    return [
        Tokenised(list(map(int, i)), list(map(int, lab)), False)
        for i, lab in zip(frame["input_ids"], frame["labels"], strict=True)
    ]


def check_fingerprint(label_dir: Path, tokenizer) -> None:
    """The tokens were made by this tokenizer and template (a changed base or template reruns label in DVC;
    outside it, say so rather than train on ids from another vocabulary)."""
    made = manifest(label_dir)["tokenizer"]
    if made != fingerprint(tokenizer):
        raise MillraceError(
            f"{label_dir}/{FOLDER} was made by another tokenizer or chat template than model.pretrained and "
            "model.chat_template give now; run the label stage again (dvc repro)"
        )
