"""A multilayer perceptron for tabular features: Linear → ReLU → Dropout blocks, then one output per class
(or a single value for regression)."""

from __future__ import annotations

from typing import Any

from torch import nn


class TabularMLP(nn.Module):
    def __init__(self, input_dim: int, output_dim: int, hidden: list[int], dropout: float) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        width = input_dim
        for size in hidden:
            layers += [nn.Linear(width, size), nn.ReLU(), nn.Dropout(dropout)]
            width = size
        layers.append(nn.Linear(width, output_dim))
        self.net = nn.Sequential(*layers)

    def forward(self, features):
        return self.net(features)


def build(plan, outputs: int, spec: dict[str, Any]) -> TabularMLP:
    return TabularMLP(plan.width, outputs, list(spec["hidden"]), spec["dropout"])
