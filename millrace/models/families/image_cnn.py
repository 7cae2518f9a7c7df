"""A small convolutional network for images: conv → batchnorm → ReLU blocks (max-pooling between
them), global average pooling, dropout and a linear head. Works from 4×4 pixels up."""

from __future__ import annotations

from typing import Any

from torch import nn


class ImageCNN(nn.Module):
    def __init__(self, in_channels: int, size: int, outputs: int, channels: list[int], dropout: float) -> None:
        super().__init__()
        blocks: list[nn.Module] = []
        width, side = in_channels, size
        for i, out_channels in enumerate(channels):
            blocks += [
                nn.Conv2d(width, out_channels, 3, padding=1, bias=False),
                nn.BatchNorm2d(out_channels),
                nn.ReLU(),
            ]
            if i < len(channels) - 1 and side >= 4:  # pool between blocks while there is room
                blocks.append(nn.MaxPool2d(2))
                side //= 2
            width = out_channels
        self.features = nn.Sequential(*blocks)
        self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Dropout(dropout), nn.Linear(width, outputs))

    def forward(self, images):
        return self.head(self.features(images))


def build(plan, outputs: int, spec: dict[str, Any]) -> ImageCNN:
    return ImageCNN(plan.channels, plan.size, outputs, list(spec["channels"]), spec["dropout"])
