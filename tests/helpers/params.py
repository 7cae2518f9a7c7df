"""Params for tests: the schema's, with the default dataset's source and target where a test gives none."""

from __future__ import annotations

from typing import Any

from millrace.config.params import Data, Params, parse_params

PENGUINS = {"source": {"kind": "builtin", "name": "penguins"}, "target": "species"}


def parse(raw: dict[str, Any] | None = None) -> Params:
    """`parse_params(raw)`, its data section completed with penguins' source and target where raw has none."""
    raw = dict(raw or {})
    raw["data"] = {**PENGUINS, **raw.get("data", {})}
    return parse_params(raw)


def data(**fields: Any) -> Data:
    """A `Data` section: penguins' source and target unless given."""
    return Data(**{**PENGUINS, **fields})


def plan_for(frame, features: list[str] | None, **data_fields: Any):
    """The input plan fitted on `frame` for these features (penguins' source and target unless given)."""
    from millrace.inputs import plans

    return plans.fit(frame, parse({"data": {"features": features, **data_fields}}))
