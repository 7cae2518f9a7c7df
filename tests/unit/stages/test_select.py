"""Selection rules, table-driven: profile + resources + preference → family, strategy and size."""

import pandas as pd
import pytest

from millrace.config.params import Model
from millrace.errors import MillraceError
from millrace.inputs.images import png_bytes
from millrace.models.selection import describe
from stages.select import report, run

CPU = {"accelerator": "cpu", "gpu_memory_gb": 0.0, "cpu_cores": 2}
GPU = {"accelerator": "cuda", "gpu": "H100", "gpu_memory_gb": 80.0, "cpu_cores": 16}


def profile(kind, rows, task="classification", **extra):
    return {"kind": kind, "task": task, "rows": rows, "features": 1, "classes": 4, **extra}


TEXT = {"mean_words": 20}


@pytest.mark.parametrize(
    ("data", "found", "model", "epochs", "expected"),
    [
        # tabular: every size is cheap, so balanced and accuracy take the largest, speed the smallest
        (profile("tabular", 240), CPU, Model(), 60, ("tabular_mlp", "full", "large")),
        (profile("tabular", 240), CPU, Model(preference="speed"), 60, ("tabular_mlp", "full", "small")),
        (profile("tabular", 300, task="regression"), CPU, Model(), 60, ("tabular_mlp", "full", "large")),
        # a big table on a small budget: the large net no longer fits a quarter of the budget
        (profile("tabular", 200_000), CPU, Model(time_budget_minutes=20), 60, ("tabular_mlp", "full", "small")),
        # images
        (profile("image", 1257, image_pixels=64), CPU, Model(), 40, ("image_cnn", "full", "large")),
        # text, 800 rows, no GPU: speed → the frozen encoder; accuracy → full fine-tuning
        (profile("text", 800, **TEXT), CPU, Model(preference="speed"), 6, ("text_minilm", "freeze", "medium")),
        (profile("text", 800, **TEXT), CPU, Model(preference="accuracy"), 6, ("text_minilm", "full", "medium")),
        # balanced, no GPU: the best strategy that needs ≤ 25% of the budget
        (profile("text", 800, **TEXT), CPU, Model(), 6, ("text_minilm", "full", "medium")),
        (profile("text", 800, **TEXT), CPU, Model(), 10, ("text_minilm", "freeze", "medium")),
        # the same with a GPU: full fine-tuning is cheap enough
        (profile("text", 800, **TEXT), GPU, Model(), 10, ("text_minilm", "full", "medium")),
        # 60 epochs on a CPU: only the frozen encoder fits 10 minutes
        (profile("text", 800, **TEXT), CPU, Model(preference="accuracy"), 60, ("text_minilm", "freeze", "medium")),
        # overrides win, even over the budget
        (profile("text", 800, **TEXT), CPU, Model(strategy="full"), 60, ("text_minilm", "full", "medium")),
        (profile("text", 800, **TEXT), CPU, Model(name="text_bow"), 10, ("text_bow", "full", "small")),
        (profile("tabular", 240), CPU, Model(size="medium"), 60, ("tabular_mlp", "full", "medium")),
    ],
)
def test_selection_rules(data, found, model, epochs, expected):
    selection = run(data, found, model, epochs)
    assert (selection["family"], selection["strategy"], selection["size"]) == expected
    assert bool(selection["overridden"]) == (model.name != "auto" or model.strategy != "auto" or model.size != "auto")


def test_full_fine_tune_over_budget_is_rejected_with_the_estimate():
    # the example: text, 800 rows, no GPU, preference speed → MiniLM frozen + head
    selection = run(profile("text", 800, **TEXT), CPU, Model(preference="speed"), 60)
    assert (selection["family"], selection["strategy"]) == ("text_minilm", "freeze")
    reason = selection["rejected"]["text_minilm (full, medium)"]
    assert reason.startswith("estimated") and "> budget 10 min" in reason
    assert "handles tabular data, not text" in selection["rejected"]["tabular_mlp (full, small)"]
    assert "only by name" in selection["rejected"]["text_bow (full, small)"]
    assert "no GPU" in selection["reasons"][0] and "preference speed" in selection["reasons"][0]


def test_an_override_over_budget_says_so():
    selection = run(profile("text", 800, **TEXT), CPU, Model(strategy="full"), 60)
    assert selection["overridden"] == {"strategy": "full"}
    assert any("override wins" in r for r in selection["reasons"])
    assert any("exceeds the budget" in r for r in selection["reasons"])


def test_unknown_or_unfit_overrides_are_refused():
    with pytest.raises(ValueError, match="'auto', 'tabular_mlp'"):
        Model(name="resnet")  # by the schema, before any stage runs
    with pytest.raises(MillraceError, match="no registered model fits tabular"):
        run(profile("tabular", 100), CPU, Model(name="text_minilm"), 10)


def test_report_is_readable_markdown_naming_every_candidate():
    selection = run(profile("text", 800, **TEXT), CPU, Model(preference="speed"), 6)
    text = report(selection)
    assert text.startswith("# Model selection: text_minilm (freeze, medium)")
    assert "| text_minilm (full, medium) |" in text and "**chosen**" in text
    assert text.count("\n| ") == len(selection["candidates"]) + 1  # header + one row each


def test_describe_tells_the_kind_of_data():
    tabular = describe(pd.DataFrame({"x": [1.0, 2.0], "c": ["a", "b"]}), ["x", "c"], ["p", "q"])
    assert tabular["kind"] == "tabular" and tabular["rows"] == 2
    text = describe(pd.DataFrame({"t": ["a fairly long sentence about a parcel " * 2] * 3}), ["t"], ["p", "q"])
    assert text["kind"] == "text" and text["mean_words"] == 14
    import numpy as np

    images = pd.DataFrame({"img": [png_bytes(np.zeros((8, 8), np.uint8))] * 2})
    image = describe(images, ["img"], ["p", "q"])
    assert image["kind"] == "image" and image["image_pixels"] == 64


def test_a_candidate_that_does_not_fit_the_gpu_memory_is_rejected():
    small_gpu = {**GPU, "gpu_memory_gb": 0.4}  # 22.6M weights × 16 bytes × 1.5 ≈ 0.5 GB for full training
    selection = run(profile("text", 800, **TEXT), small_gpu, Model(preference="accuracy"), 10)
    assert "GB (GPU memory)" in selection["rejected"]["text_minilm (full, medium)"]
    assert (selection["family"], selection["strategy"]) == ("text_minilm", "lora")
    assert selection["candidates"][-1]["memory_gb"] > 0
