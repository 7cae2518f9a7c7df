import pytest
import torch

from stages.deploy import DeployRefused, check_delivery
from stages.evaluate import delivery, scores
from stages.params import Evaluate


def test_scores_match_a_hand_count():
    probabilities = torch.tensor([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    metrics = scores(probabilities, [0, 1, 1, 1], ["a", "b"])
    assert metrics["accuracy"] == pytest.approx(0.75)
    assert metrics["per_class"]["b"]["recall"] == pytest.approx(2 / 3)
    assert metrics["per_class"]["a"]["precision"] == pytest.approx(0.5)
    assert metrics["per_class"]["b"]["support"] == 3
    assert metrics["confusion_matrix"]["counts"] == [[1, 0], [1, 2]]


def test_delivery_standard_fails_below_threshold_and_deploy_refuses():
    decision = delivery({"accuracy": 0.8, "f1_macro": 0.9}, Evaluate(thresholds={"accuracy": 0.9, "f1_macro": 0.85}))
    assert decision["passed"] is False
    assert "test/accuracy 0.8000 < 0.9" in decision["reasons"]
    with pytest.raises(DeployRefused, match="does not meet the delivery standard"):
        check_delivery({"delivery": decision})
