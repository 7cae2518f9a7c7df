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
    message: str = Field(examples=["unknown category 'Atlantis' for 'island' (row 0); allowed: ['Biscoe', 'Dream']"])
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
        "description": "the body is not JSON, does not fit the schema, or a value does not fit the model",
    },
    503: refused("the model is not loaded yet, or `serve.max_concurrency` predictions are in flight (see Retry-After)"),
}
PROTECTED = {401: PREDICT[401]}  # /metadata and /metrics
READY = {
    200: {"model": Readiness, "description": "the model is loaded and serving"},
    503: {"model": Readiness, "description": "not yet (see Retry-After), or the model could not be loaded"},
}
