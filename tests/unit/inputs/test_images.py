"""The image plan: size and channels from the training images, resizing, base64, unreadable images named."""

import base64

import numpy as np
import pandas as pd
import pytest

from millrace.inputs import images
from millrace.inputs.tabular import FeatureError
from tests.helpers.params import plan_for


def _frame(n=4, size=8):
    pixels = [np.full((size, size), 40 * i, np.uint8) for i in range(n)]
    return pd.DataFrame({"image": [images.png_bytes(p) for p in pixels], "y": list("abab")[:n]})


def test_image_plan_takes_size_and_channels_from_the_training_images():
    frame = _frame()
    plan = plan_for(frame, ["image"])
    assert isinstance(plan, images.ImagePlan) and (plan.size, plan.channels) == (8, 1)
    encoded = plan.encode(frame)["images"]
    assert encoded.shape == (4, 1, 8, 8) and encoded.dtype == np.float32
    assert abs(float(encoded.mean())) < 1e-5  # standardised with the training split's statistics


def test_images_are_resized_to_the_declared_size_and_base64_is_accepted():
    frame = _frame()
    plan = plan_for(frame, ["image"], image={"size": 16, "channels": 3})
    as_text = frame.assign(image=[base64.b64encode(b).decode() for b in frame["image"]])
    np.testing.assert_array_equal(plan.encode(frame)["images"], plan.encode(as_text)["images"])
    assert plan.encode(frame)["images"].shape == (4, 3, 16, 16)


@pytest.mark.parametrize("bad", ["%%%not base64", base64.b64encode(b"not an image").decode(), 3.5])
def test_an_unreadable_image_names_the_row(bad):
    plan = plan_for(_frame(), ["image"])
    frame = _frame(2).astype({"image": object})
    frame.loc[1, "image"] = bad
    with pytest.raises(FeatureError, match=r"feature 'image'.*\(row 1\)"):
        plan.encode(frame)
