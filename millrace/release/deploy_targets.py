"""Deployment targets beside the local server: `edge` (a loader needing only numpy and onnxruntime)
and `cloud` (a container recipe for the same server), written into the bundle by deploy.

edge: `edge/predict.py` (a copy of `millrace/release/edge_predict.py`) + the graph (`model.int8.onnx` when that
variant shipped, else fp32) + `preprocess.json` + `model.json` (task, classes); it applies the input plan
in numpy, so a device needs nothing of millrace. For images it takes decoded pixels of the model's size
(decoding and resizing are the device's camera or image library's job; it says the shape it needs). For
text it tokenises itself as `tokenizers` does, from `tokenizer.json` and `charmap.json` (what the library
does with each code point, asked of it here); a tokenizer it cannot run is refused, and the manifest says so.
cloud: `cloud/Dockerfile` (python:3.11-slim, non-root, HEALTHCHECK on /ready), a pinned
`requirements.txt` of exactly what serving imports, `params.yaml` for the container and `CLOUD.md`
(build from the project root, run on Cloud Run / ECS / Kubernetes). Building is left to the user.
"""

from __future__ import annotations

import json
import shutil
from importlib import metadata
from pathlib import Path
from typing import Any

import yaml

from millrace.inputs import texts

# What `python -m millrace.serving.app` imports, by distribution; kind-specific extras below.
SERVING = ["fastapi", "uvicorn", "httptools", "uvloop", "onnxruntime", "numpy", "pandas", "pydantic", "pyyaml"]
SERVING += ["prometheus-client", "rich", "fastapi-offline"]
BY_KIND = {"image": ["pillow"], "text": ["tokenizers"], "tabular": []}
PORT = 8000
# The library's modules that `python -m millrace.serving.app` imports: the image holds these and nothing else
# of the project (tests/unit/release/test_deploy_targets.py follows the imports and checks the list).
SERVING_MODULES = [
    "millrace/__init__.py",
    "millrace/config/__init__.py",
    "millrace/config/params.py",
    "millrace/entry.py",
    "millrace/environment.py",
    "millrace/errors.py",
    "millrace/files.py",
    "millrace/inputs/__init__.py",
    "millrace/inputs/columns.py",
    "millrace/inputs/feature_error.py",
    "millrace/inputs/images.py",
    "millrace/inputs/plans.py",
    "millrace/inputs/roles.py",
    "millrace/inputs/table_transform.py",
    "millrace/inputs/tabular.py",
    "millrace/inputs/texts.py",
    "millrace/language/__init__.py",
    "millrace/language/base.py",
    "millrace/language/decoding.py",
    "millrace/language/quantised.py",
    "millrace/language/release_files.py",
    "millrace/language/strategies.py",
    "millrace/memory.py",
    "millrace/quality/__init__.py",
    "millrace/quality/cleaning.py",
    "millrace/release/__init__.py",
    "millrace/release/edge_predict.py",
    "millrace/release/naming.py",
    "millrace/release/registry.py",
    "millrace/release/served.py",
    "millrace/serving/__init__.py",
    "millrace/serving/app.py",
    "millrace/serving/bundle.py",
    "millrace/serving/generating.py",
    "millrace/serving/guard.py",
    "millrace/serving/language_bundle.py",
    "millrace/serving/openai_api.py",
    "millrace/serving/openai_routes.py",
    "millrace/serving/openapi_docs.py",
    "millrace/serving/request_errors.py",
    "millrace/serving/request_log.py",
    "millrace/serving/slots.py",
    "millrace/serving/telemetry.py",
    "millrace/serving/text_stream.py",
    "millrace/sources/__init__.py",
    "millrace/sources/names.py",
]

DOCKERFILE = """# The millrace server for one bundle. Build from the project root (the context needs millrace/):
#   docker build -f {bundle}/cloud/Dockerfile -t millrace-serve:{version} .
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DO_NOT_TRACK=1
RUN useradd --create-home --uid 10001 millrace
WORKDIR /app
COPY {bundle}/cloud/requirements.txt requirements.txt
RUN pip install --no-cache-dir -r requirements.txt
{copy_library}
COPY {bundle}/ models/deploy/
COPY {bundle}/cloud/params.yaml params.yaml
USER millrace
EXPOSE {port}
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \\
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/ready')"]
CMD ["python", "-m", "millrace.serving.app", "--host", "0.0.0.0", "--port", "{port}"]
"""

CLOUD_GUIDE = """# Running bundle {version} in a container

Build from the project root (the image needs the serving part of `millrace/` and this bundle):

    docker build -f {bundle}/cloud/Dockerfile -t millrace-serve:{version} .
    docker run -p {port}:{port} millrace-serve:{version}

The image holds only what serving imports (`requirements.txt`, pinned to the versions this bundle was
tested with), runs as a non-root user, listens on 0.0.0.0:{port} inside the container, and reports
health on `/ready` (503 until the model has loaded). Request logging is off in the image: a container's
disk is not the place for it; mount a volume at /app/data/monitoring and set `monitor.log_requests: true`
(and any other `monitor` setting) in the image's `params.yaml` to keep it.

- **Google Cloud Run**: push to Artifact Registry, `gcloud run deploy --image … --port {port}`.
- **AWS ECS / Fargate**: push to ECR; a task definition with container port {port} and a health check on
  `/ready`.
- **Kubernetes**: a Deployment with `readinessProbe: httpGet /ready` and `livenessProbe: httpGet /health`
  on port {port}; the server's `/metrics` is Prometheus text for a ServiceMonitor.
- Set `serve.token_env` (e.g. `MILLRACE_TOKEN`) in `params.yaml` and pass the variable as a secret to
  require a bearer token.
"""


def requirements(kind: str) -> list[str]:
    return [f"{name}=={metadata.version(name)}" for name in SERVING + BY_KIND.get(kind, [])]


def _write_edge(out: Path, manifest: dict[str, Any]) -> dict[str, Any]:
    from millrace.release import edge_predict

    graph = "model.int8.onnx" if (out / "model.int8.onnx").exists() else "model.onnx"
    from millrace.inputs import table_transform

    files = {edge_predict.__file__: "predict.py", out / graph: graph, out / "preprocess.json": "preprocess.json"}
    if manifest["kind"] == "tabular":
        files[table_transform.__file__] = edge_predict.TRANSFORM
    made: dict[str, str] = {
        "model.json": json.dumps({k: manifest[k] for k in ("version", "task", "classes", "target")}, indent=2)
    }
    if manifest["kind"] == "text":
        plan = json.loads((out / "preprocess.json").read_text())
        spec = (out / plan["tokenizer"]).read_text(encoding="utf-8")
        try:  # before asking the library about every code point: a tokenizer of another kind may lack a normaliser
            edge_predict.check_runnable(json.loads(spec))
        except ValueError as exc:
            return {"refused": str(exc)}
        files[out / plan["tokenizer"]] = plan["tokenizer"]
        made[edge_predict.CHARMAP] = json.dumps(texts.charmap(spec), ensure_ascii=False)
    edge = out / "edge"
    edge.mkdir()
    for source, name in files.items():
        shutil.copy2(source, edge / name)
    for name, text in made.items():
        (edge / name).write_text(text + "\n", encoding="utf-8")
    return {"folder": "edge", "graph": graph, "needs": ["numpy", "onnxruntime"]}


def write(targets: list[str], out: Path, manifest: dict[str, Any], params) -> dict[str, Any]:
    """Write each target's files into the bundle folder `out`; return what was written (or why not)."""
    found: dict[str, Any] = {"local": "millrace serve"}
    bundle = params.paths.deploy
    if "edge" in targets:
        found["edge"] = _write_edge(out, manifest)
    if "cloud" in targets:
        cloud = out / "cloud"
        cloud.mkdir()
        values = {"bundle": bundle, "version": manifest["version"], "port": PORT}
        copy_library = "\n".join(f"COPY {path} {path}" for path in SERVING_MODULES)
        (cloud / "Dockerfile").write_text(DOCKERFILE.format(copy_library=copy_library, **values))
        (cloud / "requirements.txt").write_text("\n".join(requirements(manifest["kind"])) + "\n")
        (cloud / "CLOUD.md").write_text(CLOUD_GUIDE.format(**values))
        container = {
            "paths": {"deploy": "models/deploy", "releases": "models/releases", "monitoring": "data/monitoring"},
            # what the model was trained on (the schema requires it; the server reads only the bundle)
            "data": params.data.model_dump(mode="json", include={"source", "target"}),
            "serve": params.serve.model_dump() | {"host": "0.0.0.0", "port": PORT},
            "monitor": {"log_requests": False},
        }
        (cloud / "params.yaml").write_text(yaml.safe_dump(container, sort_keys=False))
        found["cloud"] = {"folder": "cloud", "image": f"millrace-serve:{manifest['version']}", "port": PORT}
    return found
