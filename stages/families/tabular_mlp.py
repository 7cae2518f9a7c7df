"""A multilayer perceptron for tabular features: Linear → ReLU → Dropout blocks, then logits."""

from __future__ import annotations

from torch import nn

from stages.params import Model


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

    def forward(self, x):
        return self.net(x)


def build(input_dim: int, output_dim: int, params: Model) -> TabularMLP:
    return TabularMLP(input_dim, output_dim, list(params.hidden), params.dropout)
