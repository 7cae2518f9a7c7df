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


def test_a_model_of_another_target_or_task_may_not_take_over_a_models_name(tmp_path):
    import json
    from types import SimpleNamespace

    from stages.deploy import check_same_model

    (tmp_path / "manifest.json").write_text(
        json.dumps({"version": "v1", "target": "species", "task": "classification"})
    )
    same = SimpleNamespace(meta={"target": "species"}, task="classification")
    check_same_model(tmp_path, same, "penguins")
    for other in (
        SimpleNamespace(meta={"target": "sex"}, task="classification"),
        SimpleNamespace(meta={"target": "species"}, task="regression"),
    ):
        with pytest.raises(
            DeployRefused, match="model 'penguins' is a classification model of 'species'.*deploy.model_name"
        ):
            check_same_model(tmp_path, other, "penguins")
