"""Models for tests: the MiniLM family built for a strategy, as train builds it."""

from __future__ import annotations

from millrace.config.params import Model
from millrace.models.catalogue import FAMILIES
from millrace.training.fit import model_spec

HEAD = 384 * 4 + 4  # the linear head over MiniLM's 384 features, 4 classes


def build_minilm(plan, strategy: str):
    """The text_minilm backbone for 4 classes with `strategy`, and the spec it was built from."""
    spec = model_spec({"family": "text_minilm", "strategy": strategy, "size": "medium"}, Model())
    return FAMILIES["text_minilm"].build(plan, 4, spec), spec
