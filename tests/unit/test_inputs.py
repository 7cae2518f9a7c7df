"""Input plans for images and text: what train fits is what evaluate, deploy and serve encode."""

import base64

import numpy as np
import pandas as pd
import pytest

from stages import images, plans, texts
from stages.features import FeatureError
from stages.params import Data


def _frame(n=4, size=8):
    pixels = [np.full((size, size), 40 * i, np.uint8) for i in range(n)]
    return pd.DataFrame({"image": [images.png_bytes(p) for p in pixels], "y": list("abab")[:n]})


def test_image_plan_takes_size_and_channels_from_the_training_images():
    frame = _frame()
    plan = plans.fit(frame, ["image"], Data())
    assert isinstance(plan, images.ImagePlan) and (plan.size, plan.channels) == (8, 1)
    encoded = plan.encode(frame)["images"]
    assert encoded.shape == (4, 1, 8, 8) and encoded.dtype == np.float32
    assert abs(float(encoded.mean())) < 1e-5  # standardised with the training split's statistics


def test_images_are_resized_to_the_declared_size_and_base64_is_accepted():
    frame = _frame()
    plan = plans.fit(frame, ["image"], Data(image={"size": 16, "channels": 3}))
    as_text = frame.assign(image=[base64.b64encode(b).decode() for b in frame["image"]])
    np.testing.assert_array_equal(plan.encode(frame)["images"], plan.encode(as_text)["images"])
    assert plan.encode(frame)["images"].shape == (4, 3, 16, 16)


@pytest.mark.parametrize("bad", ["%%%not base64", base64.b64encode(b"not an image").decode(), 3.5])
def test_an_unreadable_image_names_the_row(bad):
    plan = plans.fit(_frame(), ["image"], Data())
    frame = _frame(2).astype({"image": object})
    frame.loc[1, "image"] = bad
    with pytest.raises(FeatureError, match=r"feature 'image'.*\(row 1\)"):
        plan.encode(frame)


def test_text_plan_tokenises_with_the_bundled_tokenizer_and_round_trips(tmp_path):
    frame = pd.DataFrame({"text": ["the parcel never arrived at my door, " * 3, "refund please, " * 4]})
    assert plans.data_kind(frame, ["text"]) == ("text", "text")
    plan = plans.fit(frame, ["text"], Data(text={"max_length": 12}))
    encoded = plan.encode(frame)
    assert encoded["input_ids"].shape == (2, 12) and encoded["attention_mask"].dtype == np.int64
    assert encoded["input_ids"][0, 0] == 101  # [CLS]: the tokenizer MiniLM was trained with
    plans.save(plan, tmp_path)
    assert (tmp_path / texts.TOKENIZER_FILE).exists()
    again = plans.load(tmp_path)
    np.testing.assert_array_equal(again.encode(frame)["input_ids"], encoded["input_ids"])


def test_text_plan_refuses_a_non_string():
    plan = texts.fit("text", 16)
    with pytest.raises(FeatureError, match=r"needs text, got 5 \(row 1\)"):
        plan.encode(pd.DataFrame({"text": ["fine", 5]}))


def test_image_or_text_data_with_extra_declared_features_is_explained():
    frame = _frame().assign(extra=1.0)
    with pytest.raises(Exception, match=r"reads the image column 'image' only.*\['extra'\]"):
        plans.fit(frame, ["image", "extra"], Data())


def test_a_declared_text_source_is_text_however_short():
    from stages.params import TextSource

    frame = pd.DataFrame({"tweet": ["ok", "bad", "meh"]})
    assert plans.data_kind(frame, ["tweet"])[0] == "tabular"  # short strings look like categories
    data = Data(source=TextSource(kind="text", path="x.csv", text_column="tweet"))
    assert isinstance(plans.fit(frame, ["tweet"], data), texts.TextPlan)


def test_only_columns_of_long_strings_are_free_text():
    from stages.texts import text_columns

    long = ["a sentence long enough to count as free text, not as a category label"] * 3
    frame = pd.DataFrame(
        {
            "number": [1.5, 2.5, 3.5],
            "sentence": long,
            "sentence_category": pd.Series(long, dtype="category"),
            "short": ["red", "green", "blue"],
            "mixed": [long[0], 3, None],
        }
    )
    assert text_columns(frame, list(frame.columns)) == ["sentence", "sentence_category"]
