"""The train stage on a language model, in process: it saves what trained with the tokenizer the tokens were made
with, and an interrupted run resumes from its last epoch and ends with the weights of an uninterrupted one."""

import json

import pytest
import torch
from safetensors.torch import load_file

from millrace.errors import MillraceError
from millrace.language import base, chat, tokens
from stages.train import run
from tests.helpers.language import GREETINGS, tiny_llama_folder
from tests.helpers.params import parse
from tests.unit.stages.test_train import CrashAtEpoch


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    root = tmp_path_factory.mktemp("lm")
    folder = tiny_llama_folder(root / "base")
    tokenizer = base.load_tokenizer(base.resolve(str(folder)))
    chats = [
        [{"role": "user", "content": f"Greet Ana in {language}."}, {"role": "assistant", "content": greeting}]
        for language, greeting in GREETINGS.items()
    ]
    examples = [chat.tokenise(tokenizer, messages, 128, f"example {i}") for i, messages in enumerate(chats)]
    made_by = {"tokenizer": tokens.fingerprint(tokenizer), "max_length": 128, "task": "sft"}
    tokens.write(root / "label" / tokens.FOLDER, {"train": examples, "val": examples[:2]}, made_by, True)
    return root


def settings(root, packing: bool = False, **train):
    return parse(
        {
            "paths": {"label": str(root / "label")},
            "data": {
                "source": {"kind": "file", "path": "x.jsonl"},
                "task": "sft",
                "target": None,
                "text": {"packing": packing},
            },
            "model": {"pretrained": str(root / "base")},
            "train": {"max_epochs": 4, "batch_size": 2, "lr": 0.01, **train},
        }
    )


SELECTION = {"family": "causal_lm", "strategy": "full"}


def test_an_interrupted_fine_tune_resumes_and_ends_where_an_uninterrupted_one_does(project, tmp_path):
    params = settings(project)
    label = project / "label"
    whole = run(label, SELECTION, params, tmp_path / "whole", tmp_path / "live0", tmp_path / "other")
    checkpoints = tmp_path / "checkpoints"
    with pytest.raises(SystemExit):
        run(label, SELECTION, params, tmp_path / "resumed", tmp_path / "live1", checkpoints, (CrashAtEpoch(2),))
    resumed = run(label, SELECTION, params, tmp_path / "resumed", tmp_path / "live2", checkpoints)
    assert resumed["resumed"] is True and whole["resumed"] is False and whole["epochs_run"] == 4
    a, b = (load_file(tmp_path / name / "model" / "model.safetensors") for name in ("whole", "resumed"))
    assert a.keys() == b.keys() and all(torch.equal(a[key], b[key]) for key in a)
    saved = json.loads((tmp_path / "whole" / "model.json").read_text())
    assert saved["weights"] == "model" and saved["trainable_params"] == saved["total_params"]
    assert (tmp_path / "whole" / "tokenizer" / "tokenizer.json").is_file()
    assert not checkpoints.exists()


def test_packed_rows_train_as_padded_examples_do(project, tmp_path):
    label = project / "label"
    found = {}
    for packing in (False, True):
        out = tmp_path / str(packing)
        found[packing] = run(label, SELECTION, settings(project, packing, max_epochs=2), out, out / "live", out / "c")
    made = json.loads((project / "label" / tokens.FOLDER / tokens.MANIFEST).read_text())["splits"]["train"]
    assert made["packed_rows"] < made["examples"] == 4  # the greetings share rows of 128 tokens
    assert found[True]["epochs_run"] == found[False]["epochs_run"] == 2
    assert 0 < found[True]["best_val_loss"] < 20 and 0 < found[False]["best_val_loss"] < 20


def test_tokens_made_by_another_tokenizer_are_refused(project, tmp_path):
    other = settings(project)
    manifest = project / "label" / tokens.FOLDER / tokens.MANIFEST
    kept = manifest.read_text()
    manifest.write_text(kept.replace(json.loads(kept)["tokenizer"], "0" * 64))
    try:
        with pytest.raises(MillraceError, match="made by another tokenizer or chat template"):
            run(project / "label", SELECTION, other, tmp_path / "out", tmp_path / "live", tmp_path / "ckpt")
    finally:
        manifest.write_text(kept)
