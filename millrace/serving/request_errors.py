"""The server's 422 for a request that does not fit the schema: where and what, never the input echoed back.

FastAPI's own answer repeats each offending value whole, once per member of a union: a 4 MB array sent
as a feature came back as a 16 MB answer, and a body of a quarter of a million bad records as as many
errors. Here each location is reported once, its value described in a few words, and at most
MAX_ERRORS locations are listed with how many more there were.
"""

from __future__ import annotations

from typing import Any

from fastapi import HTTPException
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse

MAX_ERRORS = 10
UNION_MEMBERS = {"float": "a number", "int": "a number", "str": "a string", "bool": "a boolean"}  # feature values


def described(value: Any) -> str:
    """A value as a person would name it in a sentence, short whatever its size."""
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' * (len(value) != 1)}"
    if isinstance(value, dict):
        return f"an object with {len(value)} key{'s' * (len(value) != 1)}"
    text = repr(value)
    return text if len(text) <= 60 else f"{text[:57]}..."


def _where(location: tuple) -> str:
    """('body', 'records', 0, 'sex') → records[0].sex"""
    text = ""
    for part in location:
        if part == "body" and not text:
            continue
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "body"


def summarise(errors: list[dict[str, Any]]) -> dict[str, Any]:
    """One entry per location: a feature value of the wrong kind is one error, not one per type it could be."""
    found: dict[tuple, dict[str, Any]] = {}
    for error in errors:
        location = tuple(error.get("loc", ()))
        expected = UNION_MEMBERS.get(location[-1]) if location and isinstance(location[-1], str) else None
        if expected and error.get("type", "").endswith("_type"):
            location = location[:-1]
            entry = found.setdefault(location, {"expected": [], "input": error.get("input")})
            if expected not in entry["expected"]:
                entry["expected"].append(expected)
            continue
        entry = {"message": error.get("msg", "invalid")}
        if error.get("type") != "missing":  # a missing field's input is the whole object around it
            entry["input"] = error.get("input")
        found.setdefault(location, entry)
    listed = []
    for location, entry in list(found.items())[:MAX_ERRORS]:
        if "expected" in entry:
            message = f"needs {', '.join(entry['expected'])} or null"
        else:
            message = entry["message"]
        item = {"field": _where(location), "message": message}
        if "input" in entry:
            item["got"] = described(entry["input"])
        listed.append(item)
    more = len(found) - len(listed)
    return {"detail": listed, **({"more_errors": more} if more else {})}


def invalid(field: str, message: str) -> HTTPException:
    """A 422 for a request that fits the schema but not the model, in the schema errors' shape."""
    return HTTPException(status_code=422, detail=[{"field": field, "message": message}])


async def answer(_request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse(summarise(list(exc.errors())), status_code=422)
