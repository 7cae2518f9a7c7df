"""Deployment targets beside the local server: `edge` (a loader needing only numpy and onnxruntime)
and `cloud` (a container recipe for the same server), written into the bundle by deploy.

edge: `edge/predict.py` + the graph (`model.int8.onnx` when that variant shipped, else fp32) +
`preprocess.json` + `model.json` (task, classes); it applies the input plan in numpy, so a device needs
nothing of millrace. For images it takes decoded pixels of the model's size (decoding and resizing are the
device's camera or image library's job; it says the shape it needs). Text bundles get none: tokenising
needs the tokenizers package, which is the local server's job; the manifest says so.
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

# What `python -m stages.serve` imports, by distribution; kind-specific extras below.
SERVING = ["fastapi", "uvicorn", "httptools", "uvloop", "onnxruntime", "numpy", "pandas", "pydantic", "pyyaml"]
SERVING += ["prometheus-client", "rich"]
BY_KIND = {"image": ["pillow"], "text": ["tokenizers"], "tabular": []}
PORT = 8000

EDGE_LOADER = '''"""Predict with this bundle using numpy and onnxruntime only (written by millrace's deploy stage).

    python predict.py records.json        # a JSON list of {feature: value}; predictions to stdout
    from predict import EdgeModel; EdgeModel().predict([{...}])

An image model takes decoded pixels, not files: each record's image feature is a uint8 array (nested lists
in JSON) of the model's size, H x W for greyscale or H x W x 3 for RGB; `EdgeModel().input` says which.
Decode and resize with the device's own camera or image library.
"""

import json
import sys
from pathlib import Path

import numpy as np
import onnxruntime

HERE = Path(__file__).resolve().parent


class EdgeModel:
    def __init__(self, directory=HERE):
        directory = Path(directory)
        self.plan = json.loads((directory / "preprocess.json").read_text())
        self.manifest = json.loads((directory / "model.json").read_text())
        graph = directory / ("model.int8.onnx" if (directory / "model.int8.onnx").exists() else "model.onnx")
        self.session = onnxruntime.InferenceSession(str(graph), providers=["CPUExecutionProvider"])

    @property
    def input(self):
        """What a record must hold."""
        if self.plan["kind"] == "image":
            size, channels = self.plan["size"], self.plan["channels"]
            shape = [size, size] if channels == 1 else [size, size, channels]
            return {self.plan["column"]: f"uint8 pixels, shape {shape}"}
        return {**{n: "number" for n in self.plan["numeric"]}, **self.plan["categorical"]}

    def encode_images(self, records):
        name, size, channels = self.plan["column"], self.plan["size"], self.plan["channels"]
        shape = (size, size) if channels == 1 else (size, size, channels)
        out = np.empty((len(records), channels, size, size), np.float32)
        for row, record in enumerate(records):
            try:
                pixels = np.asarray(record[name])
            except KeyError:
                raise ValueError(f"feature {name!r} is missing (record {row})") from None
            integers = np.issubdtype(pixels.dtype, np.integer)
            if pixels.shape != shape or not integers or pixels.min() < 0 or pixels.max() > 255:
                raise ValueError(f"feature {name!r} needs uint8 pixels of shape {list(shape)} (record {row}), "
                                 f"got {pixels.dtype} of shape {list(pixels.shape)}: decode and resize the image first")
            scaled = pixels.astype(np.float32) / 255.0
            out[row] = scaled[None] if channels == 1 else scaled.transpose(2, 0, 1)
        return {"images": (out - self.plan["mean"]) / self.plan["std"]}

    def encode(self, records):
        if self.plan["kind"] == "image":
            return self.encode_images(records)
        columns = []
        for name, (mean, std) in self.plan["numeric"].items():
            try:
                values = np.array([float(r[name]) for r in records], dtype=np.float64)
            except (KeyError, TypeError, ValueError):
                raise ValueError(f"feature {name!r} needs a number in every record") from None
            if not np.isfinite(values).all():
                raise ValueError(f"feature {name!r} needs a finite number in every record, not NaN or infinity")
            columns.append(((values - mean) / std)[:, None])
        for name, vocabulary in self.plan["categorical"].items():
            one_hot = np.zeros((len(records), len(vocabulary)))
            for row, record in enumerate(records):
                value = str(record.get(name))
                if value not in vocabulary:
                    raise ValueError(f"feature {name!r}: {value!r} is not one of {vocabulary} (record {row})")
                one_hot[row, vocabulary.index(value)] = 1.0
            columns.append(one_hot)
        return {"features": np.hstack(columns).astype(np.float32)}

    def predict(self, records):
        outputs = self.session.run(None, self.encode(records))[0]
        if self.manifest["task"] == "regression":
            return [{"value": float(v)} for v in outputs]
        classes = self.manifest["classes"]
        return [
            {"class": classes[int(np.argmax(p))], "probabilities": {c: float(x) for c, x in zip(classes, p)}}
            for p in outputs
        ]


if __name__ == "__main__":
    source = open(sys.argv[1]) if len(sys.argv) > 1 else sys.stdin
    print(json.dumps(EdgeModel().predict(json.load(source))))
'''

DOCKERFILE = """# The millrace server for one bundle. Build from the project root (the context needs stages/):
#   docker build -f {bundle}/cloud/Dockerfile -t millrace-serve:{version} .
FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 DO_NOT_TRACK=1
RUN useradd --create-home --uid 10001 millrace
WORKDIR /app
COPY {bundle}/cloud/requirements.txt requirements.txt
RUN pip install --no-cache-dir -r requirements.txt
COPY stages/ stages/
COPY {bundle}/ models/deploy/
COPY {bundle}/cloud/params.yaml params.yaml
USER millrace
EXPOSE {port}
HEALTHCHECK --interval=10s --timeout=3s --start-period=30s \\
  CMD ["python", "-c", "import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}/ready')"]
CMD ["python", "-m", "stages.serve", "--host", "0.0.0.0", "--port", "{port}"]
"""

CLOUD_GUIDE = """# Running bundle {version} in a container

Build from the project root (the image needs `stages/` and this bundle):

    docker build -f {bundle}/cloud/Dockerfile -t millrace-serve:{version} .
    docker run -p {port}:{port} millrace-serve:{version}

The image holds only what serving imports (`requirements.txt`, pinned to the versions this bundle was
tested with), runs as a non-root user, listens on 0.0.0.0:{port} inside the container, and reports
health on `/ready` (503 until the model has loaded). Request logging is off in the image: a container's
disk is not the place for it; mount a volume at /app/data/monitoring and set `monitor.log_requests: true`
in `params.yaml` to keep it.

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


def write(targets: list[str], out: Path, manifest: dict[str, Any], params) -> dict[str, Any]:
    """Write each target's files into the bundle folder `out`; return what was written (or why not)."""
    found: dict[str, Any] = {"local": "millrace serve"}
    bundle = params.paths.deploy
    if "edge" in targets:
        if manifest["kind"] == "text":
            found["edge"] = {"refused": "text needs its tokenizer (the tokenizers package); serve it locally"}
        else:
            edge = out / "edge"
            edge.mkdir()
            (edge / "predict.py").write_text(EDGE_LOADER)
            graph = "model.int8.onnx" if (out / "model.int8.onnx").exists() else "model.onnx"
            for name in (graph, "preprocess.json"):
                shutil.copy2(out / name, edge / name)
            model = {k: manifest[k] for k in ("version", "task", "classes", "target")}
            (edge / "model.json").write_text(json.dumps(model, indent=2) + "\n")
            found["edge"] = {"folder": "edge", "graph": graph, "needs": ["numpy", "onnxruntime"]}
    if "cloud" in targets:
        cloud = out / "cloud"
        cloud.mkdir()
        values = {"bundle": bundle, "version": manifest["version"], "port": PORT}
        (cloud / "Dockerfile").write_text(DOCKERFILE.format(**values))
        (cloud / "requirements.txt").write_text("\n".join(requirements(manifest["kind"])) + "\n")
        (cloud / "CLOUD.md").write_text(CLOUD_GUIDE.format(**values))
        container = {
            "paths": {"deploy": "models/deploy", "releases": "models/releases", "monitoring": "data/monitoring"},
            "serve": params.serve.model_dump() | {"host": "0.0.0.0", "port": PORT},
            "monitor": params.monitor.model_dump() | {"log_requests": False},
        }
        (cloud / "params.yaml").write_text(yaml.safe_dump(container, sort_keys=False))
        found["cloud"] = {"folder": "cloud", "image": f"millrace-serve:{manifest['version']}", "port": PORT}
    return found
