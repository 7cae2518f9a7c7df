"""Selection rules, table-driven: profile + resources + preference → family, strategy and size."""

import pandas as pd
import pytest

from millrace.config.params import Model
from millrace.errors import MillraceError
from millrace.inputs.images import png_bytes
from millrace.models.catalogue import FAMILIES
from millrace.models.selection import describe
from stages.select import report, run

CPU = {"accelerator": "cpu", "gpu_memory_gb": 0.0, "cpu_cores": 2}
GPU = {"accelerator": "cuda", "gpu": "H100", "gpu_memory_gb": 80.0, "cpu_cores": 16}


def profile(kind, rows, task="classification", **extra):
    return {"kind": kind, "task": task, "rows": rows, "features": 1, "classes": 4, **extra}


TEXT = {"mean_words": 20}
MLP = ["tabular_mlp"]  # a portfolio of one family: chosen by the preference rules below, without judging


@pytest.mark.parametrize(
    ("data", "found", "model", "epochs", "expected"),
    [
        # tabular: every size is cheap, so balanced and accuracy take the largest, speed the smallest
        (profile("tabular", 240), CPU, Model(portfolio=MLP), 60, ("tabular_mlp", "full", "large")),
        (profile("tabular", 240), CPU, Model(preference="speed", portfolio=MLP), 60, ("tabular_mlp", "full", "small")),
        (profile("tabular", 300, task="regression"), CPU, Model(portfolio=MLP), 60, ("tabular_mlp", "full", "large")),
        # a big table on a small budget: the large net no longer fits a quarter of the budget
        (
            profile("tabular", 200_000),
            CPU,
            Model(time_budget_minutes=20, portfolio=MLP),
            60,
            ("tabular_mlp", "full", "small"),
        ),
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
        (profile("tabular", 240), CPU, Model(size="medium", portfolio=MLP), 60, ("tabular_mlp", "full", "medium")),
    ],
)
def test_selection_rules(data, found, model, epochs, expected):
    selection = run(data, found, model, epochs)
    assert (selection["family"], selection["strategy"], selection["size"]) == expected
    assert bool(selection["overridden"]) == (model.name != "auto" or model.strategy != "auto" or model.size != "auto")


def test_full_fine_tune_over_budget_is_rejected_with_the_estimate():
    # the issue's example: text, 800 rows, no GPU, preference speed → MiniLM frozen + head
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


def judged(*scores):
    """A portfolio's results as millrace.training.portfolio.compare returns them: (candidate name, score, loss)."""
    from millrace.training.portfolio import Candidate, Result

    results = []
    for name, score, loss in scores:
        family, number = name.split("#")
        config = dict(FAMILIES[family].search_space[int(number) - 1])
        candidate = Candidate(family, int(number) - 1, config)
        if score is None:
            results.append(Result(candidate, skipped="not tried: about 90 s to judge, 3 s of the budget left"))
        else:
            results.append(Result(candidate, score=score, error=0.01, loss=loss, fit_seconds=0.2, size=10))
    return results


def refuse(families):
    raise AssertionError(f"no portfolio should be judged, got {[f.name for f in families]}")


def test_a_pinned_model_name_or_a_portfolio_of_one_family_judges_nothing():
    pinned = run(profile("tabular", 240), CPU, Model(name="lightgbm", portfolio=["linear", "lightgbm"]), 60, refuse)
    assert pinned["family"] == "lightgbm" and "leaderboard" not in pinned
    assert run(profile("tabular", 240), CPU, Model(portfolio=MLP), 60, refuse)["family"] == "tabular_mlp"
    one = run(profile("tabular", 240), CPU, Model(portfolio=["xgboost"]), 60, refuse)
    assert one["family"] == "xgboost" and one["rejected"]["lightgbm (full, medium)"].startswith(
        "not in model.portfolio"
    )
    text = run(profile("text", 800, **TEXT), CPU, Model(portfolio="auto"), 6, refuse)  # tables only
    assert text["family"] == "text_minilm"


def test_a_portfolio_deploys_its_best_held_out_candidate_and_reports_every_one():
    asked = []

    def judge(families):
        asked.extend(f.name for f in families)
        return judged(
            ("linear#1", 0.95, 0.2), ("lightgbm#2", 0.99, 0.05), ("lightgbm#1", 0.99, 0.07), ("lightgbm#3", None, None)
        )

    selection = run(profile("tabular", 240), CPU, Model(portfolio=["linear", "lightgbm"]), 60, judge)
    assert sorted(asked) == ["lightgbm", "linear"]
    assert (selection["family"], selection["options"]) == ("lightgbm", {"num_leaves": 7, "min_child_samples": 5})
    assert selection["rejected"]["lightgbm#1"] == "same accuracy, higher loss: 0.0700 vs 0.0500"
    assert selection["rejected"]["linear#1"] == "lower accuracy: 0.9500 vs 0.9900"
    assert selection["rejected"]["lightgbm#3"].startswith("not tried")
    page = report(selection)
    assert page.startswith("# Model selection: lightgbm#2 (portfolio)")
    rows = [line for line in page.splitlines() if line.startswith("| ") and "#" in line.split("|")[1]]
    assert [r.split("|")[1].strip() for r in rows] == ["lightgbm#2", "lightgbm#1", "linear#1", "lightgbm#3"]
    assert "0.9900 ± 0.0100" in rows[0] and "**chosen**" in rows[0]


def test_a_budget_too_short_for_any_candidate_is_an_error_naming_the_key():
    with pytest.raises(MillraceError, match="model.time_budget_minutes .* too short to judge any candidate"):
        run(
            profile("tabular", 240),
            CPU,
            Model(portfolio=["linear", "lightgbm"]),
            60,
            lambda families: judged(("linear#1", None, None), ("lightgbm#1", None, None)),
        )


def test_an_ensemble_that_wins_is_what_train_gets_with_its_members_and_weights():
    from millrace.training.portfolio import Candidate, Result

    members = [
        {"family": "linear", "strategy": "full", "size": "small", "weight": 0.4},
        {"family": "lightgbm", "strategy": "full", "size": "medium", "weight": 0.6},
    ]
    blend = Candidate("ensemble", 0, {"members": members, "of": {"linear#1": 0.4, "lightgbm#1": 0.6}})

    def judge(families):
        return [*judged(("linear#1", 0.95, 0.2), ("lightgbm#1", 0.97, 0.1)), Result(blend, score=0.98, loss=0.08)]

    selection = run(profile("tabular", 240), CPU, Model(portfolio=["linear", "lightgbm"], ensemble=2), 60, judge)
    assert selection["family"] == "ensemble" and selection["members"] == members
    assert selection["rejected"]["lightgbm#1"] == "lower accuracy: 0.9700 vs 0.9800"
    assert "the weighted average of linear#1 ×0.4 + lightgbm#1 ×0.6's outputs" in selection["reasons"][2]
    assert "| ensemble | linear#1 ×0.4 + lightgbm#1 ×0.6 |" in report(selection)
