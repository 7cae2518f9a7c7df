"""A language-model release folder, written one way wherever one is made (deploy, the tests, the serving bench):
`bundle/` (the weights as transformers saves them, the tokenizer with its chat template) and the manifest fields
that name the bundle by its content. millrace/serving/language_bundle.py reads it back."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from millrace.files import folder_sha256

BUNDLE, MANIFEST = "bundle", "manifest.json"


def save(folder: Path, model, tokenizer) -> str:
    """The model and its tokenizer into `folder`/bundle; return the bundle's sha256."""
    bundle = Path(folder) / BUNDLE
    model.save_pretrained(bundle, safe_serialization=True)
    tokenizer.save_pretrained(bundle)
    return folder_sha256(bundle)


def named(weights: str) -> dict[str, Any]:
    """The manifest's fields that name a bundle by its sha256: its version, and its entry in `files`."""
    return {"version": weights[:12], "weights_sha256": weights, "files": {BUNDLE + "/": weights}}
