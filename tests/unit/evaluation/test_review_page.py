"""The review page: which samples it shows, how it shows them, and how reviewers' verdicts come back."""

from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from millrace.config.params import Evaluate
from millrace.errors import MillraceError
from millrace.evaluation import review_page
from millrace.evaluation.delivery import delivery

CLASSES = ["billing", "delivery"]
TEST = pd.DataFrame(
    {
        "text": ["refund my invoice", "parcel is late", "invoice again", "where is the parcel", "my invoice parcel"],
        "label": [0, 1, 0, 1, 1],
    }
)
OUTPUTS = np.array([[0.9, 0.1], [0.2, 0.8], [0.55, 0.45], [0.6, 0.4], [0.95, 0.05]])  # rows 3 and 4 are wrong


def test_per_class_the_most_confident_errors_and_least_confident_correct_are_chosen():
    chosen = review_page.choose(TEST, OUTPUTS, CLASSES, per_class=1, worst=None)
    assert chosen.values.tolist() == [
        [2, "billing: least confident correct"],
        [4, "delivery: most confident errors"],  # 0.95 sure it is billing: worse than row 3's 0.6
        [1, "delivery: least confident correct"],
    ]


def test_regression_shows_the_largest_and_smallest_errors_and_the_worst_slice():
    frame = pd.DataFrame({"x": ["a", "b", "a", "b"], "label": [1.0, 2.0, 3.0, 4.0]})
    chosen = review_page.choose(frame, np.array([1.1, 5.0, 3.0, 4.5]), [], 1, {"column": "x", "value": "b"})
    assert chosen["position"].tolist()[:3] == [1, 3, 0] and chosen["section"].iloc[-1] == "worst slice: x = b"


def test_a_verdict_counts_while_the_model_makes_the_prediction_it_judged():
    ids = review_page.sample_ids(TEST)
    verdicts = pd.DataFrame(
        [
            [ids[4], "billing", "wrong", "it is about a parcel", "ana"],
            [ids[0], "billing", "ok", "", "ana"],
            [ids[1], "billing", "wrong", "judged an older model", "bo"],  # the model now says delivery: stale
        ],
        columns=review_page.VERDICT_COLUMNS,
    )
    predictions = [CLASSES[i] for i in OUTPUTS.argmax(1)]
    folded = review_page.fold_in(verdicts, ids, predictions)
    assert (folded["current"], folded["stale"], folded["wrong"], folded["ok"]) == (2, 1, 1, 1)
    assert folded["wrong_samples"] == [{"sample_id": ids[4], "predicted": "billing", "note": "it is about a parcel"}]
    standard = Evaluate(thresholds={"accuracy": 0.5}, review={"max_wrong": 0})
    decision = delivery({"accuracy": 0.6}, standard, review=folded)
    assert not decision["passed"] and "reviewers marked 1 predictions wrong > 0" in decision["reasons"]


def test_the_verdicts_file_is_checked(tmp_path):
    path = tmp_path / "review_verdicts.csv"
    assert review_page.read_verdicts(path).empty  # none yet
    path.write_text("sample_id,predicted,verdict\nabc,billing,ok\nabd,billing,meh\n")
    with pytest.raises(MillraceError, match="line 3: verdict 'meh' is not one of"):
        review_page.read_verdicts(path)


def test_the_page_shows_inputs_highlights_and_earlier_verdicts():
    from millrace.inputs import texts

    trained = SimpleNamespace(classes=CLASSES, plan=texts.fit("text", 16))
    train = pd.DataFrame(
        {"text": ["invoice refund", "refund invoice fee", "parcel courier", "late parcel"], "label": [0, 0, 1, 1]}
    )
    ids = review_page.sample_ids(TEST)
    verdicts = pd.DataFrame([[ids[4], "billing", "wrong", "parcel!", "ana"]], columns=review_page.VERDICT_COLUMNS)
    chosen = review_page.choose(TEST, OUTPUTS, CLASSES, 2, None)
    page = review_page.render(TEST, OUTPUTS, chosen, trained, train, verdicts, "Review")
    assert page.count('class="card') == len(chosen)
    assert '<mark class="p">invoice</mark>' in page and '<mark class="t">parcel</mark>' in page
    assert f'name="v{ids[4]}" value="wrong" checked' in page and 'value="parcel!"' in page
    assert "download verdicts.csv" in page and "<script>" in page and "http" not in page  # self-contained


def test_images_are_embedded_as_thumbnails():
    from millrace.inputs.images import png_bytes

    pixels = np.zeros((8, 8), dtype=np.uint8)
    frame = pd.DataFrame({"image": [png_bytes(pixels)], "label": [0]})
    trained = SimpleNamespace(classes=["zero"], plan=SimpleNamespace(kind="image", column="image"))
    chosen = pd.DataFrame({"position": [0], "section": ["zero: least confident correct"]})
    page = review_page.render(
        frame, np.array([[1.0]]), chosen, trained, frame, review_page.read_verdicts(None), "Review"
    )
    assert 'src="data:image/png;base64,' in page
