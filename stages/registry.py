"""The model registry: the families `select` chooses from, and the extension point for new ones.

Adding a family is one module under `stages/families/` (a plain `nn.Module` built from
`(input_dim, output_dim, model_params)`) plus one `ModelFamily` entry below. Entries name their
builder by import path so that `select` never imports torch.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ModelFamily:
    name: str
    data_kinds: frozenset[str]  # "tabular", later "image", "text"
    tasks: frozenset[str]  # "classification", later "regression"
    max_rows: int | None  # beyond this the family is too slow or too small to be a good choice
    description: str
    builder: str  # "module:function"

    def build(self, input_dim: int, output_dim: int, params: Any):
        module, function = self.builder.split(":")
        return getattr(importlib.import_module(module), function)(input_dim, output_dim, params)


REGISTRY: dict[str, ModelFamily] = {
    family.name: family
    for family in [
        ModelFamily(
            name="tabular_mlp",
            data_kinds=frozenset({"tabular"}),
            tasks=frozenset({"classification"}),
            max_rows=None,
            description="a multilayer perceptron over standardised numeric and one-hot features",
            builder="stages.families.tabular_mlp:build",
        ),
    ]
}
