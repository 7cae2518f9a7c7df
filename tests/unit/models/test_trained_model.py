"""The trained model on disk counts trainable and total parameters as the strategy left them."""

import pytest

from millrace.config.params import Model
from millrace.inputs import texts
from millrace.models import trained_model
from millrace.models.catalogue import FAMILIES
from millrace.training.fit import model_spec

ENCODER = 22_565_376  # MiniLM-L6 without its pooler
HEAD = 384 * 4 + 4
LORA = 6 * 2 * (8 * 384 + 384 * 8)  # 6 layers × query, value × (A + B) at r = 8


@pytest.fixture(scope="module")
def plan():
    return texts.fit("text", 32)


def _build(plan, strategy):
    spec = model_spec({"family": "text_minilm", "strategy": strategy, "size": "medium"}, Model())
    return FAMILIES["text_minilm"].build(plan, 4, spec), spec


@pytest.mark.parametrize(
    ("strategy", "trainable", "total"),
    [
        ("full", ENCODER + HEAD, ENCODER + HEAD),
        ("freeze", HEAD, ENCODER + HEAD),
        ("lora", LORA + HEAD, ENCODER + HEAD + LORA),
        ("gradual_unfreeze", HEAD, ENCODER + HEAD),  # before the first release
    ],
)
def test_trainable_and_total_parameters(plan, strategy, trainable, total):
    model, _ = _build(plan, strategy)
    assert trained_model.parameter_counts(model) == {"trainable_params": trainable, "total_params": total}
