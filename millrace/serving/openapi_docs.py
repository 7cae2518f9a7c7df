"""The server's answers as its OpenAPI document (`/docs`, `/openapi.json`) describes them.

Documentation only: the routes build their answers themselves and FastAPI does not validate them
against these models, so describing an answer costs a request nothing. Every error, whoever raises
it (validation, the body cap, load shedding, a feature the model cannot use), has one shape: a
`detail`, which for a 422 is the list of problems, each naming the field.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class Problem(BaseModel):
    field: str = Field(description="where in the body, e.g. `records[0].body_mass_g`", examples=["records[0].island"])
    message: str = Field(examples=["clean.filters.island: island='Atlantis' is not an allowed value (row 0)"])
    got: str | None = Field(None, description="the value sent, described in a few words (never echoed whole)")


class Invalid(BaseModel):
    """A 422: the request does not fit the schema or the model's features."""

    detail: list[Problem] = Field(description="at most 10 problems, one per field")
    more_errors: int | None = Field(None, description="how many further problems were not listed")


class Refused(BaseModel):
    """Any other error: what is wrong, in a sentence."""

    detail: str


class ClassPrediction(BaseModel):
    class_: str | int | float | bool = Field(
        alias="class", description="the most probable class, as in the training data"
    )
    probabilities: dict[str, float] = Field(description="every class's probability; they sum to 1")


class ValuePrediction(BaseModel):
    value: float


class Predictions(BaseModel):
    model_version: str
    predictions: list[ClassPrediction | ValuePrediction] = Field(
        description="one per record, in order: a class and every class's probability, or a value (regression)"
    )


class Readiness(BaseModel):
    ready: bool
    version: str | None = Field(None, description="the release being served, once ready")
    detail: str | None = Field(None, description="`loading`, or why the model could not be loaded")


def refused(why: str) -> dict[str, Any]:
    return {"model": Refused, "description": why}


PREDICT = {
    200: {"model": Predictions, "description": "a prediction per record"},
    401: refused("the bearer token is missing or wrong (when `serve.token_env` names one)"),
    413: refused("the body is over `serve.max_body_bytes`; refused before it is read"),
    422: {
        "model": Invalid,
        "description": "the body is not JSON, does not fit the schema, a value has the wrong type, or a record "
        "breaks a rule the clean stage would have quarantined it for (the rule's params key is named)",
    },
    503: refused("the model is not loaded yet, or `serve.max_concurrency` predictions are in flight (see Retry-After)"),
}
PROTECTED = {401: PREDICT[401]}  # /metadata and /metrics
READY = {
    200: {"model": Readiness, "description": "the model is loaded and serving"},
    503: {"model": Readiness, "description": "not yet (see Retry-After), or the model could not be loaded"},
}


JSON_TYPES = {
    "number": {"type": "number"},
    "string": {"type": "string"},
    "boolean": {"type": "boolean"},
    "datetime": {"type": "string", "format": "date-time"},
    "text": {"type": "string"},
}
RECORD_NOTE = (
    "One record as the data was read: a missing value (null, or the key left out) is imputed with the value "
    "fitted on the training split, and an unseen category encodes as the model's unseen bucket; both are "
    "counted in /metrics and the request log. Keys the model does not read (the target, an id) are ignored."
)


def with_signature(schema: dict[str, Any], signature: list[dict[str, Any]], version: str) -> dict[str, Any]:
    """The OpenAPI document with `records`' items described by the served model's input signature."""
    import copy

    documented = copy.deepcopy(schema)
    properties = {}
    for feature in signature:
        typed = dict(JSON_TYPES[feature["type"]])
        if feature.get("categories"):
            typed["examples"] = feature["categories"][:20]
        typed["description"] = f"{feature['role']}" + ("" if feature["may_be_missing"] else "; must not be missing")
        properties[feature["name"]] = {"anyOf": [typed, {"type": "null"}]} if feature["may_be_missing"] else typed
    required = [f["name"] for f in signature if not f["may_be_missing"]]
    record = {"type": "object", "properties": properties, "description": f"{RECORD_NOTE} (model {version})"}
    if required:
        record["required"] = required
    request = documented.get("components", {}).get("schemas", {}).get("PredictRequest")
    if request is not None:
        request["properties"]["records"]["items"] = record
    return documented
