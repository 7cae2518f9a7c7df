"""Random image transforms for training batches (`train.augment`), done on the batch tensor itself.

Rotation and shift are one random affine warp per image (`affine_grid` + `grid_sample`), flips a
random horizontal mirror; all run on whatever device holds the batch. torchvision is not needed.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


class RandomAffine(nn.Module):
    def __init__(self, rotate_degrees: float = 0.0, shift: float = 0.0, flip: bool = False) -> None:
        super().__init__()
        self.rotate, self.shift, self.flip = math.radians(rotate_degrees), shift, flip

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        n = images.shape[0]
        if self.flip:
            mirror = torch.rand(n, device=images.device) < 0.5
            images = torch.where(mirror[:, None, None, None], images.flip(-1), images)
        if not self.rotate and not self.shift:
            return images
        angle = (torch.rand(n, device=images.device) * 2 - 1) * self.rotate
        offset = (torch.rand(n, 2, device=images.device) * 2 - 1) * self.shift * 2  # grid units span [-1, 1]
        cos, sin = torch.cos(angle), torch.sin(angle)
        theta = torch.stack([torch.stack([cos, -sin, offset[:, 0]], 1), torch.stack([sin, cos, offset[:, 1]], 1)], 1)
        grid = F.affine_grid(theta.to(images.dtype), list(images.shape), align_corners=False)
        # Pixels warped in from outside the image take the lowest value present (the background).
        background = images.amin(dim=(1, 2, 3), keepdim=True)
        warped = F.grid_sample(images - background, grid, padding_mode="zeros", align_corners=False)
        return warped + background


def from_params(augment) -> RandomAffine | None:
    if not (augment.flip or augment.rotate_degrees or augment.shift):
        return None
    return RandomAffine(augment.rotate_degrees, augment.shift, augment.flip)
