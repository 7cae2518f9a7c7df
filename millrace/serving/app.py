"""serve: the deployed bundle behind HTTP (FastAPI + uvicorn, ONNX Runtime for inference).

Serves the active release of the model params.yaml names (`<paths.releases>/<model>/ACTIVE`), or
`<paths.deploy>/` before there is one, and says at start which and why (millrace/release/served.py), with the
`serve.*` params; every `serve.reload_seconds` it looks for a newly promoted (or rolled back) release of
that model, loads it beside the current one and swaps it in: requests in flight finish on the version
they started with, none is dropped. A sample of the predicted records goes to the request log
(`<paths.monitoring>/requests.sqlite`, `monitor.*`) for `millrace drift`. `POST /predict` takes
`{"records": [{feature: value, …}, …]}` (an image as base64-encoded PNG/JPEG bytes, a text as a
string) and returns a class and probabilities per record, or a value for regression. A table model
takes raw records, as the data was read: its fitted preprocessing imputes missing values and buckets
unseen categories (both counted in `/metrics` and the request log), and a record the clean stage would
have quarantined is answered 422 naming the rule; `/docs` describes a record by the model's input
signature. `GET /health`
(the process is alive), `GET /ready` (503 until the bundle, loaded in the background at start-up, is
ready), `GET /metadata` (the model) and `GET /metrics` (Prometheus text: requests by route and
status, a latency histogram, errors, predictions) describe it; OpenAPI docs are at `/docs`. Binds
127.0.0.1 unless told otherwise, caps the body size and the batch, and requires a bearer token when
`serve.token_env` names one.
A language model's release is served with the OpenAI API instead of `/predict` (millrace/serving/openai_routes.py).
Run: `python -m millrace.serving.app` or `millrace serve [--host H] [--port P]`.
"""

from __future__ import annotations

import contextlib
import hmac
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fastapi import Depends, FastAPI, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.exception_handlers import http_exception_handler
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from millrace import __version__
from millrace.config.params import Serve, load_params
from millrace.errors import MillraceError
from millrace.inputs.feature_error import FeatureError
from millrace.release import registry, served
from millrace.serving import openai_api, openai_routes, openapi_docs, request_errors
from millrace.serving.bundle import Bundle
from millrace.serving.guard import Guard
from millrace.serving.language_bundle import LanguageBundle, is_language
from millrace.serving.openai_api import Refused
from millrace.serving.request_log import RequestLog
from millrace.serving.telemetry import Telemetry

Value = float | int | str | bool | None
# A few tabular records take ~0.1 ms to predict: less than handing them to a worker thread, so they are
# predicted on the event loop. Larger batches, images and text (decoding, tokenising, a transformer)
# go to the thread pool, where they cannot hold up other requests.
INLINE_RECORDS = 16
OPENAI = "/v1/"  # the OpenAI API's routes (a language model), which answer errors in its shape


def load_bundle(directory: Path | str, variant: str = "fp32") -> Bundle | LanguageBundle:
    """The bundle at `directory`, loaded for serving: a language model's weights, or a model's ONNX graphs."""
    return LanguageBundle(directory, variant) if is_language(directory) else Bundle(directory, variant)


class Loading:
    """The bundle being served: loaded in the background at start-up, so `/ready` can say when."""

    def __init__(self, source: Bundle | LanguageBundle | Callable[[], Bundle | LanguageBundle]) -> None:
        self.bundle: Bundle | LanguageBundle | None = None if callable(source) else source
        self.error: str | None = None
        self._load = source if callable(source) else None

    def start(self) -> None:
        if self._load is not None:
            threading.Thread(target=self._run, name="load-bundle", daemon=True).start()

    def _run(self) -> None:
        try:
            self.bundle = self._load()
        except Exception as exc:  # reported by /ready and /predict, and logged
            self.error = f"the model could not be loaded: {exc}"
            logging.getLogger("uvicorn.error").error(self.error)

    def watch(self, root: Path, every: float, stop: threading.Event, variant: str = "fp32") -> None:
        """Swap in the active release whenever it changes, loading it before the swap."""

        def loop() -> None:
            log = logging.getLogger("uvicorn.error")
            while not stop.wait(every):
                try:
                    wanted = registry.active(root)
                    if wanted is None or (self.bundle is not None and self.bundle.version == wanted):
                        continue
                    self.bundle = load_bundle(root / wanted, variant)  # one assignment: requests see old or new
                    self.error = None
                    log.info("serving release %s", wanted)
                except Exception as exc:  # keep serving what is loaded; say why the new one is not
                    log.error("release not reloaded, still serving the previous one: %s", exc)

        threading.Thread(target=loop, name="watch-releases", daemon=True).start()

    def current(self) -> Bundle | LanguageBundle:
        if self.bundle is None:
            detail = self.error or "the model is still loading; retry shortly"
            raise HTTPException(status_code=503, detail=detail, headers={"Retry-After": "1"})
        return self.bundle


class PredictRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")
    records: list[dict[str, Value]] = Field(min_length=1)


def create_app(
    source: Bundle | LanguageBundle | Callable[[], Bundle | LanguageBundle],
    settings: Serve,
    token: str | None = None,
    releases_root: Path | None = None,
    log: RequestLog | None = None,
) -> FastAPI:
    """The server for a loaded bundle, or for a loader that start-up runs in the background; with
    `releases_root`, it follows that registry's active release; with `log`, it logs what it predicts."""
    model = Loading(source)
    telemetry = Telemetry()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI):
        model.start()
        stop = threading.Event()
        if releases_root is not None and settings.reload_seconds:
            model.watch(releases_root, settings.reload_seconds, stop, settings.variant)
        yield
        stop.set()

    # /docs and /redoc load Swagger UI and ReDoc from files in fastapi-offline's package, not from a CDN
    app = FastAPIOffline(title="millrace model server", version=__version__, lifespan=lifespan)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(StarletteHTTPException, _http_error)
    app.add_exception_handler(Refused, lambda _request, exc: exc.response())

    def documented() -> dict[str, Any]:
        """The OpenAPI document, its records described by the served model's input signature once loaded."""
        schema = FastAPI.openapi(app)  # FastAPI builds it once and keeps it
        bundle = model.bundle
        signature = bundle.manifest.get("signature") if bundle is not None else None
        return openapi_docs.with_signature(schema, signature, bundle.version) if signature else schema

    app.openapi = documented  # type: ignore[method-assign]

    app.add_middleware(
        Guard,
        max_body_bytes=settings.max_body_bytes,
        max_concurrency=settings.max_concurrency,
        observe=telemetry.observe,
    )

    async def authorised(request: Request) -> None:  # async: a sync dependency costs a thread hop
        if token is None:
            return
        sent = request.headers.get("authorization", "").removeprefix("Bearer ")
        if not hmac.compare_digest(sent.encode(), token.encode()):
            raise HTTPException(status_code=401, detail="missing or wrong bearer token")

    @app.get("/health")
    def health() -> dict[str, str]:
        """Liveness: the process answers. Whether the model is loaded is `/ready`."""
        return {"status": "ok"}

    @app.get("/ready", responses=openapi_docs.READY)
    def ready() -> JSONResponse:
        if model.bundle is None:
            detail = model.error or "loading"
            return JSONResponse({"ready": False, "detail": detail}, status_code=503, headers={"Retry-After": "1"})
        return JSONResponse({"ready": True, "version": model.bundle.version})

    @app.get("/metrics", dependencies=[Depends(authorised)], responses=openapi_docs.PROTECTED)
    def metrics() -> Response:
        if model.bundle is not None:
            telemetry.model.labels(model.bundle.version).set(1)
        return Response(generate_latest(telemetry.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/metadata", dependencies=[Depends(authorised)], responses=openapi_docs.PROTECTED)
    def metadata() -> dict[str, Any]:
        manifest = model.current().manifest
        keys = ("model_name", "version", "family", "task", "kind", "target", "classes", "features", "inputs")
        return {k: manifest.get(k) for k in (*keys, "metrics", "data_sha256")}

    @app.post("/predict", dependencies=[Depends(authorised)], responses=openapi_docs.PREDICT)
    async def predict(request: PredictRequest) -> dict[str, Any]:
        bundle = model.current()
        if isinstance(bundle, LanguageBundle):
            raise HTTPException(
                404, "the served model is a language model: POST /v1/chat/completions or /v1/completions"
            )
        if len(request.records) > settings.max_batch:
            message = f"at most {settings.max_batch} records per request, got {len(request.records)}"
            raise request_errors.invalid("records", message)
        started = time.perf_counter()
        try:
            if bundle.plan.kind == "tabular" and len(request.records) <= INLINE_RECORDS:
                predictions, counts = bundle.predict_counted(request.records)
            else:
                predictions, counts = await run_in_threadpool(bundle.predict_counted, request.records)
        except FeatureError as exc:
            raise request_errors.invalid("records" if exc.row is None else f"records[{exc.row}]", str(exc)) from None
        telemetry.predictions.inc(len(predictions))
        telemetry.count_inputs(counts)
        if log is not None:
            log.record(bundle.version, request.records, predictions, time.perf_counter() - started, counts.rows)
        return {"model_version": bundle.version, "predictions": predictions}

    openai_routes.add_routes(app, model.current, settings, authorised, telemetry, log)
    return app


def _openai(request: Request) -> bool:
    return request.url.path.startswith(OPENAI)


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """OpenAI's 400 under /v1, where its clients read the error; the 422 of request_errors elsewhere."""
    if _openai(request):
        return openai_api.validation_error(list(exc.errors())).response()
    return await request_errors.answer(request, exc)


async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
    if _openai(request):
        code = {401: "invalid_api_key", 503: "model_loading"}.get(exc.status_code)
        refused = Refused(exc.status_code, str(exc.detail), code=code, headers=exc.headers)
        return refused.response()
    return await http_exception_handler(request, exc)


def main(host: str | None = None, port: int | None = None) -> None:
    import uvicorn

    params = load_params()
    settings = params.serve
    token = None
    if settings.token_env:
        token = os.environ.get(settings.token_env)
        if not token:
            raise MillraceError(f"serve.token_env names {settings.token_env!r}, but that variable is not set")
    chosen = served.resolve(params)  # no bundle at all: say so now, not via /ready
    print(f"serving {chosen.describe()}", flush=True)
    root = Path(params.paths.releases) / chosen.model
    log = RequestLog(params.paths.monitoring, params.monitor) if params.monitor.log_requests else None
    app = create_app(
        lambda: load_bundle(served.resolve(params).directory, settings.variant), settings, token, root, log
    )
    uvicorn.run(app, host=host or settings.host, port=settings.port if port is None else port, log_level="info")


if __name__ == "__main__":
    import argparse

    from millrace.entry import run_stage

    parser = argparse.ArgumentParser(description="serve the deployed model over HTTP")
    parser.add_argument("--host")
    parser.add_argument("--port", type=int)
    args = parser.parse_args()
    run_stage(lambda: main(args.host, args.port))
