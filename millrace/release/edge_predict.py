"""Predict with this bundle using numpy and onnxruntime only (written by millrace's deploy stage).

    python predict.py records.json        # a JSON list of {feature: value}; predictions to stdout
    from predict import EdgeModel; EdgeModel().predict([{...}])

A table model takes raw records, as the pipeline read them: `table_transform.py` beside this file applies the
preprocessing fitted on the training split (imputing missing values, repairing text, clipping outliers,
categories the model never saw counted, dates and free text expanded), the same code the server runs. A text
model takes the text as a string: this file tokenises it itself, exactly as the `tokenizers` library does with
the model's `tokenizer.json` (BERT's uncased WordPiece), so nothing but numpy is needed. An image model takes
decoded pixels, not files: each record's image feature is a uint8 array (nested lists in JSON) of the model's
size, H x W for greyscale or H x W x 3 for RGB; `EdgeModel().input` says which. Decode and resize with the
device's own camera or image library.

(In millrace this is `millrace/release/edge_predict.py`; deploy copies it into the bundle's `edge/` folder as
`predict.py`, with `millrace/inputs/table_transform.py`, so both must import nothing but the standard library,
numpy and onnxruntime.)
"""

import bisect
import importlib.util
import json
import re
import sys
from pathlib import Path

import numpy as np
import onnxruntime

HERE = Path(__file__).resolve().parent

# BERT's "Chinese character" blocks: each such character is a word of its own.
CJK_BLOCKS = (
    (0x4E00, 0x9FFF),
    (0x3400, 0x4DBF),
    (0x20000, 0x2A6DF),
    (0x2A700, 0x2B73F),
    (0x2B740, 0x2B81F),
    (0x2B820, 0x2CEAF),
    (0xF900, 0xFAFF),
    (0x2F800, 0x2FA1F),
)
CHARMAP = "charmap.json"
TRANSFORM = "table_transform.py"


def table_transform():
    """The preprocessing code shipped beside this file in a bundle (or millrace's own, inside millrace)."""
    shipped = HERE / TRANSFORM
    if not shipped.exists():
        from millrace.inputs import table_transform as module

        return module
    spec = importlib.util.spec_from_file_location("table_transform", shipped)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def check_runnable(spec):
    """Refuse (ValueError) a tokenizer.json that WordPiece below cannot run exactly as `tokenizers` does."""
    kinds = (
        (spec.get("normalizer") or {}).get("type"),
        (spec.get("pre_tokenizer") or {}).get("type"),
        (spec.get("model") or {}).get("type"),
        (spec.get("post_processor") or {}).get("type"),
    )
    if kinds != ("BertNormalizer", "BertPreTokenizer", "WordPiece", "TemplateProcessing"):
        raise ValueError(f"only a BERT WordPiece tokenizer can be run without the tokenizers package, not {kinds}")
    template = [next(iter(piece.values()))["id"] for piece in spec["post_processor"]["single"]]
    if template != ["[CLS]", "A", "[SEP]"]:
        raise ValueError(f"only the template [CLS] $A [SEP] is supported, not {template}")


def spaces_ideographs(spec):
    return spec["normalizer"].get("handle_chinese_chars", True)


def unchanged_form(char, spaced):
    """What the normaliser makes of a character it neither drops nor maps: a CJK ideograph becomes a word of
    its own when `spaced`; anything else stays itself. `charmap.json` lists only the exceptions to this."""
    code = ord(char)
    return f" {char} " if spaced and any(first <= code <= last for first, last in CJK_BLOCKS) else char


class WordPiece:
    """BERT's WordPiece tokeniser as `tokenizers` runs a tokenizer.json made of a BertNormalizer, a
    BertPreTokenizer, a WordPiece model and a "[CLS] $A [SEP]" template; any other kind is refused.

    What each character becomes (dropped, lowercased, stripped of accents, spaced out) and which are
    punctuation come from `charmap.json`, which deploy wrote by asking `tokenizers` itself about every
    code point: Python's own Unicode tables differ from the library's by version (hundreds of code
    points), so this file does not use them. Texts are truncated to `max_length` tokens, the two
    special ones included, and padded to the longest in the batch."""

    def __init__(self, spec, charmap, max_length):
        check_runnable(spec)
        model = spec["model"]
        self.vocab = model["vocab"]
        self.unknown = self.vocab[model["unk_token"]]
        self.prefix = model.get("continuing_subword_prefix", "##")
        self.max_word = model.get("max_input_chars_per_word", 100)
        self.cls, self.sep, self.pad = self.vocab["[CLS]"], self.vocab["[SEP]"], self.vocab["[PAD]"]
        self.max_length = max_length
        self.cjk = spaces_ideographs(spec)
        self.mapped = charmap["mapped"]
        self.dropped = sorted(charmap["dropped"])  # [first, last] code points, inclusive
        self.known = {}
        self.punctuation = set(charmap["punctuation"])
        self.whitespace = set(charmap["whitespace"])
        # Added tokens ([CLS], [MASK], ...) are found in the raw text before anything else, longest first.
        added = sorted(spec.get("added_tokens", []), key=lambda t: -len(t["content"]))
        self.added = {t["content"]: t["id"] for t in added}
        self.added_pattern = re.compile("|".join(re.escape(t["content"]) for t in added)) if added else None

    def normalize(self, text):
        return "".join(self.known[c] if c in self.known else self.learn(c) for c in text)

    def learn(self, c):
        """What `c` becomes, remembered: most texts use few distinct characters."""
        code = ord(c)
        span = bisect.bisect_right(self.dropped, [code, sys.maxunicode]) - 1
        if c in self.mapped:
            becomes = self.mapped[c]
        elif span >= 0 and self.dropped[span][0] <= code <= self.dropped[span][1]:
            becomes = ""
        else:
            becomes = unchanged_form(c, self.cjk)
        self.known[c] = becomes
        return becomes

    def words(self, text):
        """Split on whitespace (dropped) and punctuation (each mark a word of its own)."""
        found, word = [], []
        for c in text:
            if c in self.whitespace:
                found.append("".join(word))
                word = []
            elif c in self.punctuation:
                found.extend(("".join(word), c))
                word = []
            else:
                word.append(c)
        found.append("".join(word))
        return [w for w in found if w]

    def pieces(self, word):
        """Greedy longest-match-first; a word with any part not in the vocabulary is one unknown token."""
        if len(word) > self.max_word:
            return [self.unknown]
        ids, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                piece = word[start:end] if start == 0 else self.prefix + word[start:end]
                if piece in self.vocab:
                    ids.append(self.vocab[piece])
                    start = end
                    break
            else:
                return [self.unknown]
        return ids

    def ids(self, text):
        ids, position = [], 0
        matches = self.added_pattern.finditer(text) if self.added_pattern else ()
        for match in [*matches, None]:
            segment = text[position : match.start() if match else len(text)]
            for word in self.words(self.normalize(segment)):
                ids.extend(self.pieces(word))
            if match:
                ids.append(self.added[match.group()])
                position = match.end()
        return [self.cls, *ids[: self.max_length - 2], self.sep]

    def encode(self, texts):
        rows = [self.ids(text) for text in texts]
        width = max(len(r) for r in rows)
        input_ids = np.full((len(rows), width), self.pad, np.int64)
        mask = np.zeros((len(rows), width), np.int64)
        for i, row in enumerate(rows):
            input_ids[i, : len(row)] = row
            mask[i, : len(row)] = 1
        return {"input_ids": input_ids, "attention_mask": mask}


class EdgeModel:
    def __init__(self, directory=HERE):
        directory = Path(directory)
        self.plan = json.loads((directory / "preprocess.json").read_text())
        self.manifest = json.loads((directory / "model.json").read_text())
        graph = directory / ("model.int8.onnx" if (directory / "model.int8.onnx").exists() else "model.onnx")
        self.session = onnxruntime.InferenceSession(str(graph), providers=["CPUExecutionProvider"])
        if self.plan["kind"] == "text":
            spec = json.loads((directory / self.plan["tokenizer"]).read_text(encoding="utf-8"))
            charmap = json.loads((directory / CHARMAP).read_text(encoding="utf-8"))
            self.tokenizer = WordPiece(spec, charmap, self.plan["max_length"])
        elif self.plan["kind"] == "tabular":
            self.transform = table_transform().TableTransform(self.plan)

    @property
    def input(self):
        """What a record must hold."""
        if self.plan["kind"] == "image":
            size, channels = self.plan["size"], self.plan["channels"]
            shape = [size, size] if channels == 1 else [size, size, channels]
            return {self.plan["column"]: f"uint8 pixels, shape {shape}"}
        if self.plan["kind"] == "text":
            return {self.plan["column"]: "text"}
        return {
            c["name"]: c.get("vocabulary") if c["role"] == "categorical" else c["role"] for c in self.plan["columns"]
        }

    def encode_texts(self, records):
        name, texts = self.plan["column"], []
        for row, record in enumerate(records):
            text = record.get(name)
            if not isinstance(text, str):
                raise ValueError(f"feature {name!r} needs text, got {text!r} (record {row})")
            texts.append(text)
        return self.tokenizer.encode(texts)

    def encode_images(self, records):
        name, size, channels = self.plan["column"], self.plan["size"], self.plan["channels"]
        shape = (size, size) if channels == 1 else (size, size, channels)
        out = np.empty((len(records), channels, size, size), np.float32)
        for row, record in enumerate(records):
            try:
                pixels = np.asarray(record[name])
            except KeyError:
                raise ValueError(f"feature {name!r} is missing (record {row})") from None
            integers = np.issubdtype(pixels.dtype, np.integer)
            if pixels.shape != shape or not integers or pixels.min() < 0 or pixels.max() > 255:
                raise ValueError(
                    f"feature {name!r} needs uint8 pixels of shape {list(shape)} (record {row}), "
                    f"got {pixels.dtype} of shape {list(pixels.shape)}: decode and resize the image first"
                )
            scaled = pixels.astype(np.float32) / 255.0
            out[row] = scaled[None] if channels == 1 else scaled.transpose(2, 0, 1)
        return {"images": (out - self.plan["mean"]) / self.plan["std"]}

    def encode(self, records):
        if self.plan["kind"] == "image":
            return self.encode_images(records)
        if self.plan["kind"] == "text":
            return self.encode_texts(records)
        return {"features": self.transform.transform_records(records)[0]}

    def predict(self, records):
        if not records:
            return []
        outputs = self.session.run(None, self.encode(records))[0]
        if self.manifest["task"] == "regression":
            return [{"value": float(v)} for v in outputs]
        classes = self.manifest["classes"]
        return [
            {
                "class": classes[int(np.argmax(p))],
                "probabilities": {c: float(x) for c, x in zip(classes, p, strict=True)},
            }
            for p in outputs
        ]


if __name__ == "__main__":
    source = open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin
    print(json.dumps(EdgeModel().predict(json.load(source))))
