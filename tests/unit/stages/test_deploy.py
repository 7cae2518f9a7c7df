"""deploy refuses a model that did not meet the delivery standard."""

import pytest

from millrace.config.params import Evaluate
from millrace.evaluation.delivery import delivery
from stages.deploy import DeployRefused, check_delivery


def test_delivery_standard_fails_below_threshold_and_deploy_refuses():
    decision = delivery({"accuracy": 0.8, "f1_macro": 0.9}, Evaluate(thresholds={"accuracy": 0.9, "f1_macro": 0.85}))
    assert decision["passed"] is False
    assert "test/accuracy 0.8000 < 0.9" in decision["reasons"]
    with pytest.raises(DeployRefused, match="does not meet the delivery standard"):
        check_delivery({"delivery": decision})
