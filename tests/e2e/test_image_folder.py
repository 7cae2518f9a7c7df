"""A folder of class sub-folders of PNG files, one of them corrupt, through the real `dvc repro` up to select."""

import json

import numpy as np
import pytest
from sklearn.datasets import load_digits

from tests.helpers.harness import copy_project, sh

pytestmark = pytest.mark.slow

PER_CLASS = 60  # a class in every split: the split is a hash of each row, not stratified


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
    sh(repo, "millrace", "preset", "examples/digits.yaml")
    folder = "data: {source: {kind: image_folder, path: data/inputs/digits}, target: digit}\n"
    folder += "gates: {clean: {min_rows: 200}}\n"
    (tmp_path / "folder.yaml").write_text(folder)
    refused = sh(repo, "millrace", "preset", str(tmp_path / "folder.yaml"), check=False)
    assert refused.returncode == 1 and "params.yaml has uncommitted edits" in refused.stderr  # the digits preset
    sh(repo, "millrace", "preset", "--force", str(tmp_path / "folder.yaml"))
    # Up to select: what is particular to a folder source; training a CNN on images is the digits
    # preset's end-to-end test.
    result = sh(repo, "dvc", "repro", "select")
    assert "excluded 3/scanner-glitch.png: not a readable image" in result.stdout

    profile = json.loads((repo / "data/acquire/profile.json").read_text())
    assert profile["rows"] == 10 * PER_CLASS
    assert profile["source"]["files"] == 10 * PER_CLASS + 1
    assert [e["file"] for e in profile["source"]["excluded"]] == ["3/scanner-glitch.png"]
    labels = json.loads((repo / "data/label/label_map.json").read_text())
    assert labels["classes"] == [str(d) for d in range(10)] and sum(labels["rows"].values()) == 10 * PER_CLASS
    selection = json.loads((repo / "models/selection.json").read_text())
    assert selection["family"] == "image_cnn" and selection["data"]["kind"] == "image"
