"""The trained model on disk counts trainable and total parameters as the strategy left them."""

import pytest

from millrace.models import network
from tests.helpers.models import HEAD, build_minilm

ENCODER = 22_565_376  # MiniLM-L6 without its pooler
LORA = 6 * 2 * (8 * 384 + 384 * 8)  # 6 layers × query, value × (A + B) at r = 8


@pytest.mark.parametrize(
    ("strategy", "trainable", "total"),
    [
        ("full", ENCODER + HEAD, ENCODER + HEAD),
        ("freeze", HEAD, ENCODER + HEAD),
        ("lora", LORA + HEAD, ENCODER + HEAD + LORA),
        ("gradual_unfreeze", HEAD, ENCODER + HEAD),  # before the first release
    ],
)
def test_trainable_and_total_parameters(text_plan, strategy, trainable, total):
    model, _ = build_minilm(text_plan, strategy)
    assert network.parameter_counts(model) == {"trainable_params": trainable, "total_params": total}
