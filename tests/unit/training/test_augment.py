"""Random image transforms for training batches: flips, rotation and shift as declared."""

import torch

from millrace.config.params import Augment
from millrace.training.augment import RandomAffine, from_params


def test_no_augmentation_declared_means_none():
    assert from_params(Augment()) is None
    assert isinstance(from_params(Augment(rotate_degrees=10)), RandomAffine)


def test_affine_moves_pixels_keeps_shape_and_background():
    torch.manual_seed(0)
    images = torch.zeros(8, 1, 8, 8)
    images[:, :, 3:5, 3:5] = 1.0
    moved = RandomAffine(rotate_degrees=20, shift=0.2)(images)
    assert moved.shape == images.shape
    assert not torch.equal(moved, images)
    assert moved.min() >= -1e-6 and moved.max() <= 1 + 1e-6


def test_flip_mirrors_some_images_exactly():
    torch.manual_seed(0)
    images = torch.arange(64.0).reshape(1, 1, 8, 8).repeat(16, 1, 1, 1)
    flipped = RandomAffine(flip=True)(images)
    mirrored = [torch.equal(f, images[0].flip(-1)) for f in flipped]
    unchanged = [torch.equal(f, images[0]) for f in flipped]
    assert any(mirrored) and any(unchanged) and all(m or u for m, u in zip(mirrored, unchanged, strict=True))
