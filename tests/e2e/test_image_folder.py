"""A folder of class sub-folders of PNG files, one of them corrupt, through the real `dvc repro`."""

import json

import numpy as np
import pytest
from sklearn.datasets import load_digits

from tests.conftest import ROOT
from tests.harness import copy_project, sh

pytestmark = pytest.mark.slow

PER_CLASS = 30


def _write_digits(root):
    from PIL import Image

    digits = load_digits()
    counts = dict.fromkeys(range(10), 0)
    for pixels, label in zip(digits.images, digits.target, strict=True):
        if counts[label] == PER_CLASS:
            continue
        counts[label] += 1
        folder = root / str(label)
        folder.mkdir(parents=True, exist_ok=True)
        image = Image.fromarray(np.round(pixels * 255 / 16).astype(np.uint8)).resize((16, 16))
        image.save(folder / f"{label}_{counts[label]:03d}.png")
    (root / "3" / "scanner-glitch.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 40)


def test_an_image_folder_trains_and_the_corrupt_file_is_named_not_fatal(tmp_path):
    repo = copy_project(tmp_path / "repo")
    _write_digits(repo / "data/inputs/digits")
    params = (ROOT / "examples/digits.yaml").read_text()
    for old, new in [
        ("    kind: builtin\n    name: digits", "    kind: image_folder\n    path: data/inputs/digits"),
        ("  target: target\n", "  target: digit\n"),
        ("    min_rows: 1000\n", "    min_rows: 200\n"),
        ("    accuracy: 0.95\n    f1_macro: 0.95\n", "    accuracy: 0.7\n    f1_macro: 0.7\n"),
        ("  max_epochs: 40\n", "  max_epochs: 12\n"),  # 300 images: enough to pass 0.7, and quick
    ]:
        assert old in params, old
        params = params.replace(old, new)
    (repo / "params.yaml").write_text(params)
    result = sh(repo, "dvc", "repro")
    assert "excluded 3/scanner-glitch.png: not a readable image" in result.stdout

    profile = json.loads((repo / "data/acquire/profile.json").read_text())
    assert profile["rows"] == 10 * PER_CLASS
    assert profile["source"]["files"] == 10 * PER_CLASS + 1
    assert [e["file"] for e in profile["source"]["excluded"]] == ["3/scanner-glitch.png"]
    manifest = json.loads((repo / "models/deploy/manifest.json").read_text())
    assert manifest["kind"] == "image" and manifest["features"]["shape"] == [1, 16, 16]
    assert json.loads((repo / "reports/evaluate/metrics.json").read_text())["delivery"]["passed"] is True
