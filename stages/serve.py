"""serve: the deployed bundle behind HTTP (FastAPI + uvicorn, ONNX Runtime for inference).

Reads `<paths.deploy>/` and the `serve.*` params. `POST /predict` takes `{"records": [{feature:
value, …}, …]}` (an image as base64-encoded PNG/JPEG bytes, a text as a string) and returns a
class and probabilities per record, or a value for regression; `GET /health` and
`GET /metadata` describe the server and the model. Binds 127.0.0.1 unless told otherwise, caps
the body size and the batch, and requires a bearer token when `serve.token_env` names one.
Run: `python -m stages.serve` or `millrace serve [--host H] [--port P]`.
"""

from __future__ import annotations

import hmac
import os
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from fastapi import Depends, FastAPI, HTTPException, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field

from stages import plans
from stages.errors import MillraceError
from stages.features import FeatureError
from stages.io import read_json
from stages.params import Serve, load_params

Value = float | int | str | bool | None


class Bundle:
    """A deployed bundle loaded for inference: needs onnxruntime, numpy and pandas only."""

    def __init__(self, directory: Path | str) -> None:
        import onnxruntime

        directory = Path(directory)
        if not (directory / "manifest.json").exists():
            raise MillraceError(f"no deployed bundle at {directory}; run `dvc repro` first")
        self.manifest = read_json(directory / "manifest.json")
        self.plan = plans.load(directory)
        self.classes: list[str] = self.manifest["classes"]
        self.session = onnxruntime.InferenceSession(str(directory / "model.onnx"), providers=["CPUExecutionProvider"])

    def predict(self, records: list[dict[str, Any]]) -> list[dict[str, Any]]:
        inputs = self.plan.encode(pd.DataFrame.from_records(records))
        outputs = self.session.run(None, {name: inputs[name] for name in self.plan.input_names})[0]
        if self.manifest.get("task") == "regression":
            return [{"value": float(value)} for value in outputs]
        probabilities = outputs
        return [
            {
                "class": self.classes[int(np.argmax(row))],
                "probabilities": {c: float(p) for c, p in zip(self.classes, row, strict=True)},
            }
            for row in probabilities
        ]


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    records: list[dict[str, Value]] = Field(min_length=1)


def create_app(bundle: Bundle, settings: Serve, token: str | None = None) -> FastAPI:
    app = FastAPI(title="millrace model server", version=bundle.manifest["version"])

    @app.middleware("http")
    async def cap_body(request: Request, call_next):
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > settings.max_body_bytes:
            return JSONResponse({"detail": f"body over {settings.max_body_bytes} bytes"}, status_code=413)
        if request.method == "POST" and declared is None:
            body = b""
            async for chunk in request.stream():
                body += chunk
                if len(body) > settings.max_body_bytes:
                    return JSONResponse({"detail": f"body over {settings.max_body_bytes} bytes"}, status_code=413)
            request._body = body  # already consumed; hand it on to the route
        return await call_next(request)

    def authorised(request: Request) -> None:
        if token is None:
            return
        sent = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(sent.encode(), token.encode()):
            raise HTTPException(status_code=401, detail="missing or wrong bearer token")

    @app.get("/health")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/metadata", dependencies=[Depends(authorised)])
    def metadata() -> dict[str, Any]:
        keys = ("version", "created_at", "family", "task", "kind", "target", "classes", "features", "inputs")
        return {k: bundle.manifest.get(k) for k in (*keys, "metrics", "data_sha256")}

    @app.post("/predict", dependencies=[Depends(authorised)])
    def predict(request: PredictRequest) -> dict[str, Any]:
        if len(request.records) > settings.max_batch:
            raise HTTPException(422, f"at most {settings.max_batch} records per request, got {len(request.records)}")
        try:
            predictions = bundle.predict(request.records)
        except FeatureError as exc:
            raise HTTPException(status_code=422, detail=str(exc)) from None
        return {"model_version": bundle.manifest["version"], "predictions": predictions}

    return app


def main(host: str | None = None, port: int | None = None) -> None:
    import uvicorn

    params = load_params()
    settings = params.serve
    token = None
    if settings.token_env:
        token = os.environ.get(settings.token_env)
        if not token:
            raise MillraceError(f"serve.token_env names {settings.token_env!r}, but that variable is not set")
    app = create_app(Bundle(params.paths.deploy), settings, token)
    uvicorn.run(app, host=host or settings.host, port=settings.port if port is None else port, log_level="info")


if __name__ == "__main__":
    import argparse

    from stages.cli import run_stage

    parser = argparse.ArgumentParser(description="serve the deployed model over HTTP")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    run_stage(lambda: main(args.host, args.port))
