"""Fixtures the unit tests of several packages share."""

import json

import numpy as np
import pandas as pd
import pytest


@pytest.fixture
def label_dir(tmp_path):
    """What the label stage writes, for a tiny two-class table: train and val splits and the label map."""
    rng = np.random.default_rng(0)
    directory = tmp_path / "label"
    directory.mkdir()
    for split, n in [("train", 60), ("val", 20)]:
        label = rng.integers(0, 2, n)
        frame = pd.DataFrame({"x": rng.normal(label * 3.0, 1.0), "c": np.where(label, "p", "q"), "y": label})
        frame.assign(label=label).to_parquet(directory / f"{split}.parquet")
    (directory / "label_map.json").write_text(json.dumps({"classes": ["n", "y"]}))
    return directory


@pytest.fixture(scope="session")
def text_plan():
    """The bundled MiniLM tokenizer's input plan, 32 tokens a text."""
    from millrace.inputs import texts

    return texts.fit("text", 32)
