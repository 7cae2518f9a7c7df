"""The catalogue of model families: the ones `select` chooses from, and the extension point for new ones.

A family is one `ModelFamily` entry below plus the code that fits it, in one of three engines:

- `lightning`: a module under `millrace/models/families/` with `build(plan, outputs, spec)` returning a plain
  `nn.Module` (its `forward` takes the plan's inputs in order); Lightning trains it, deploy exports it with
  torch.onnx;
- `tree`: a gradient-boosting library (millrace/models/trees.py), its size options the library's own;
- `linear`: scikit-learn's logistic or ridge regression (millrace/models/linear.py).

Whatever the engine, a fitted model gives probabilities or values, saves in a non-pickle format and exports to
ONNX (millrace/models/engines.py: the contract, and which class keeps it for which engine), and the entry gives a
cost estimate (`Variant.cost`) and a small `search_space`: at most 8 fixed configurations, cheapest first, the
first the family's default. A portfolio (`model.portfolio`) tries them in that order. `spec` is what `select`
chose: strategy, size and that size's options (a configuration's options over them), and the model params
(dropout, LoRA settings). Entries name their builder by import path so that `select` never imports torch.

The costs are rough CPU seconds per training row per epoch (a tree: per boosting round; linear: per fit),
validation included, at the family's reference input size (16 tokens, 8×8 pixels), measured on the 2-core CI
machine (text: the reviews example, 510 rows, 3 epochs per strategy). A tree also has a cost per round whatever
the rows (`round_cost`): both fitted to 200 rounds of each library at 300 and 36,000 rows of a synthetic
20-feature, 3-class table with 4,000 validation rows (a cost per row alone was 5 to 25 times too high at 36,000
rows). `select` multiplies them by rows, epochs and input scale to estimate a run's time against
`model.time_budget_minutes`. The quality ranks order
candidates by what usually reaches higher accuracy; they are priors, not promises.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Variant:
    strategy: str  # full, freeze, lora, gradual_unfreeze
    size: str  # small, medium, large
    quality: int  # higher usually means more accurate
    cost: float  # CPU seconds per training row per epoch at the reference input size
    round_cost: float = 0.0  # CPU seconds per epoch (a tree: per boosting round) whatever the rows

    def seconds(self, rows: int, rounds: int) -> float:
        """The CPU seconds of `rounds` epochs (boosting rounds) over `rows` training rows."""
        return rounds * (self.round_cost + rows * self.cost)


@dataclass(frozen=True)
class ModelFamily:
    name: str
    data_kinds: frozenset[str]  # tabular, image, text
    tasks: frozenset[str]  # classification, regression
    description: str
    builder: str  # "module:function"
    variants: tuple[Variant, ...]
    sizes: dict[str, dict[str, Any]] = field(default_factory=dict)  # size -> builder options
    max_rows: int | None = None  # beyond this the family is too slow or too small to be a good choice
    gpu_speedup: float = 1.0  # how much faster one GPU trains it than the CPU
    parameters: int = 0  # about how many weights its largest size has (0: small enough not to matter)
    automatic: bool = True  # False: chosen only by name (model.name) or as a distillation student
    engine: str = "lightning"  # lightning: a torch module Lightning trains; tree; linear (see the module's doc)
    search_space: tuple[dict[str, Any], ...] = ({},)  # a portfolio's configurations, cheapest first (≤ 8)

    def build(self, plan, outputs: int, spec: dict[str, Any]):
        module, function = self.builder.split(":")
        return getattr(importlib.import_module(module), function)(plan, outputs, spec)


def _boosting(
    name: str,
    description: str,
    space: tuple[dict[str, Any], ...],
    cost: float = 5e-7,
    round_cost: float = 3e-3,
    **options: Any,
) -> ModelFamily:
    """A tree family: one size, early stopping on the validation loss, rows weighted so classes weigh alike."""
    return ModelFamily(
        name=name,
        data_kinds=frozenset({"tabular"}),
        tasks=frozenset({"classification", "regression"}),
        description=f"{description} over the fitted features",
        builder="millrace.models.trees:fit",
        variants=(Variant("full", "medium", 4, cost, round_cost),),
        sizes={
            "medium": {
                "n_estimators": 1000,
                "learning_rate": 0.05,
                "early_stopping_rounds": 50,
                "class_weight": "balanced",
                **options,
            }
        },
        automatic=False,  # chosen by name, or compared with others in a portfolio (model.portfolio)
        engine="tree",
        search_space=space,
    )


FAMILIES: dict[str, ModelFamily] = {
    family.name: family
    for family in [
        ModelFamily(
            name="tabular_mlp",
            data_kinds=frozenset({"tabular"}),
            tasks=frozenset({"classification", "regression"}),
            description="a multilayer perceptron over standardised numeric and one-hot features",
            builder="millrace.models.families.tabular_mlp:build",
            variants=(
                Variant("full", "small", 1, 2e-5),
                Variant("full", "medium", 2, 3e-5),
                Variant("full", "large", 3, 8e-5),
            ),
            sizes={"small": {"hidden": [32]}, "medium": {"hidden": [64, 32]}, "large": {"hidden": [256, 128, 64]}},
            search_space=({"size": "small"}, {"size": "medium"}, {"size": "large"}),
        ),
        ModelFamily(
            name="linear",
            data_kinds=frozenset({"tabular"}),
            tasks=frozenset({"classification", "regression"}),
            description="logistic regression (classes) or ridge regression (values) over the fitted features",
            builder="millrace.models.linear:fit",
            variants=(Variant("full", "small", 0, 2e-5),),
            sizes={"small": {"c": 1.0, "class_weight": "balanced", "max_iter": 1000}},
            automatic=False,
            engine="linear",
            search_space=({}, {"c": 0.1}, {"c": 10.0}),
        ),
        _boosting(
            "lightgbm",
            "LightGBM gradient-boosted trees (leaf-wise)",
            (
                {},
                {"num_leaves": 7, "min_child_samples": 5},
                {"num_leaves": 15, "learning_rate": 0.1, "reg_lambda": 1.0},
                {"num_leaves": 63, "min_child_samples": 20, "colsample_bytree": 0.8},
            ),
            num_leaves=31,
            min_child_samples=10,
        ),
        _boosting(
            "xgboost",
            "XGBoost gradient-boosted trees (depth-wise, histogram)",
            (
                {},
                {"max_depth": 3},
                {"max_depth": 4, "learning_rate": 0.1, "reg_lambda": 5.0},
                {"max_depth": 8, "min_child_weight": 3, "subsample": 0.8, "colsample_bytree": 0.8},
            ),
            max_depth=6,
        ),
        _boosting(
            "catboost",
            "CatBoost gradient-boosted symmetric trees",
            ({}, {"depth": 4}, {"depth": 8, "l2_leaf_reg": 5.0}),
            cost=3e-7,  # symmetric trees: less per row than the others, more per round
            round_cost=4.5e-3,
            depth=6,
        ),
        ModelFamily(
            name="image_cnn",
            data_kinds=frozenset({"image"}),
            tasks=frozenset({"classification", "regression"}),
            description="a small convolutional network (conv-batchnorm-ReLU blocks, global pooling, linear head)",
            builder="millrace.models.families.image_cnn:build",
            variants=(Variant("full", "small", 2, 1.5e-4), Variant("full", "large", 3, 6e-4)),
            sizes={"small": {"channels": [16, 32]}, "large": {"channels": [32, 64, 128]}},
            gpu_speedup=10.0,
            search_space=({"size": "small"}, {"size": "large"}),
        ),
        ModelFamily(
            name="text_minilm",
            data_kinds=frozenset({"text"}),
            tasks=frozenset({"classification", "regression"}),
            description="the pretrained MiniLM-L6 sentence encoder (22.6M parameters, mean pooling) plus a linear head",
            builder="millrace.models.families.text_minilm:build",
            variants=(
                Variant("freeze", "medium", 2, 2e-3),  # encodings cached after the first epoch
                Variant("lora", "medium", 3, 1.2e-2),
                Variant("gradual_unfreeze", "medium", 4, 1.2e-2),
                Variant("full", "medium", 5, 1.7e-2),
            ),
            sizes={"medium": {}},
            gpu_speedup=30.0,
            parameters=22_600_000,
        ),
        ModelFamily(
            name="text_bow",
            data_kinds=frozenset({"text"}),
            tasks=frozenset({"classification", "regression"}),
            description="mean of learned token embeddings plus a linear head: tiny and fast, a distillation student",
            builder="millrace.models.families.text_bow:build",
            variants=(Variant("full", "small", 1, 3e-5),),
            sizes={"small": {"embedding": 64}},
            parameters=2_000_000,
            automatic=False,
        ),
    ]
}
