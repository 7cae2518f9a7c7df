"""The edge and cloud targets in the bundle: the edge loader runs with numpy and onnxruntime alone and
agrees with the server's bundle; the container recipe is linted and its requirements are all that
serving imports (the real server runs with nothing else importable)."""

import json
import re
import runpy
import shutil
import subprocess
import sys
from importlib import metadata

import httpx
import pandas as pd
import pytest

from millrace.ops.http_ready import free_port, wait_until_answers
from millrace.serving.bundle import Bundle
from tests.helpers.harness import tool_env

pytestmark = pytest.mark.slow

# Refuses any import outside the standard library and the distributions in ALLOWED (and what they need).
BLOCKER = """
import importlib.abc, importlib.machinery, importlib.metadata as md, json, os, re, sys
allowed, queue = set(), [n.lower() for n in json.loads(sys.argv.pop(1))]
while queue:
    name = re.split(r"[ ;<>=!\\[]", queue.pop())[0].lower().replace("_", "-")
    if name in allowed:
        continue
    allowed.add(name)
    try:
        queue += [r for r in md.requires(name) or [] if "extra ==" not in r]
    except md.PackageNotFoundError:
        pass
owners = md.packages_distributions()
class Block(importlib.abc.MetaPathFinder):
    def find_spec(self, fullname, path, target=None):
        top = fullname.partition(".")[0]
        if top == "millrace":  # from the working folder only (as in the image), not the project's editable install
            spec = importlib.machinery.PathFinder.find_spec(fullname, path)
            if spec is None or not (spec.origin or "").startswith(os.getcwd()):
                raise ModuleNotFoundError(f"{fullname} is not in the image")
            return spec
        if top in sys.stdlib_module_names or top == "_distutils_hack" or top.startswith("_"):
            return None
        if not {d.lower().replace("_", "-") for d in owners.get(top, [top])} & allowed:
            raise ModuleNotFoundError(f"{top} is not in the allowed distributions")  # as if absent
        return None
sys.meta_path.insert(0, Block())
"""
# `python -c RUN_EDGE ALLOWED RECORDS` in an edge folder: its predict.py on RECORDS, only ALLOWED importable.
RUN_EDGE = BLOCKER + (
    "\nimport runpy; sys.argv = ['predict.py', sys.argv[1]]; runpy.run_path('predict.py', run_name='__main__')"
)


def predict_on_device(edge, records, tmp_path) -> list[dict]:
    """The edge folder's predict.py on `records`, run with nothing but numpy and onnxruntime importable."""
    (tmp_path / "records.json").write_text(json.dumps(records))
    result = subprocess.run(
        [sys.executable, "-c", RUN_EDGE, json.dumps(["numpy", "onnxruntime"]), str(tmp_path / "records.json")],
        cwd=edge,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)


def assert_same_predictions(on_device, served, tolerance=1e-6) -> None:
    assert [p["class"] for p in on_device] == [p["class"] for p in served]
    for device, server in zip(on_device, served, strict=True):
        assert device["probabilities"] == pytest.approx(server["probabilities"], abs=tolerance)


def test_the_edge_loader_needs_only_numpy_and_onnxruntime_and_agrees_with_the_bundle(built_repo, tmp_path):
    edge = shutil.copytree(built_repo / "models/deploy/edge", tmp_path / "device")
    shipped = sorted(p.name for p in edge.iterdir())
    assert shipped == ["model.int8.onnx", "model.json", "predict.py", "preprocess.json", "table_transform.py"]
    test = pd.read_parquet(built_repo / "data/label/test.parquet")
    features = ["island", "bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g", "sex"]
    records = json.loads(test[features].head(20).to_json(orient="records"))
    on_device = predict_on_device(edge, records, tmp_path)
    assert_same_predictions(on_device, Bundle(built_repo / "models/deploy", "int8").predict(records))
    device_model = runpy.run_path(str(edge / "predict.py"))["EdgeModel"](edge)
    with pytest.raises(ValueError, match="'body_mass_g' needs a number, got inf"):  # not NaN probabilities
        device_model.predict([{**records[0], "body_mass_g": float("inf")}])


def test_the_container_recipe_is_sound_and_its_requirements_are_all_serving_needs(built_repo, tmp_path):
    cloud = built_repo / "models/deploy/cloud"
    dockerfile = (cloud / "Dockerfile").read_text()
    instructions = [line.split(None, 1) for line in dockerfile.splitlines() if line and not line.startswith(("#", " "))]
    keywords = [k for k, *_ in instructions]
    assert keywords[0] == "FROM" and "python:3.11-slim" in dockerfile
    assert keywords.index("USER") < keywords.index("CMD") and "HEALTHCHECK" in keywords
    for _, source, _ in (line.split() for line in dockerfile.splitlines() if line.startswith("COPY ")):
        assert (built_repo / source).exists(), f"COPY {source}: not in the build context"
    port = re.search(r"^EXPOSE (\d+)$", dockerfile, re.MULTILINE).group(1)
    assert f'"--port", "{port}"' in dockerfile and f"127.0.0.1:{port}/ready" in dockerfile
    pinned = dict(line.split("==") for line in (cloud / "requirements.txt").read_text().split())
    assert pinned and all(metadata.version(name) == version for name, version in pinned.items())

    # The container's layout, made by its COPY instructions alone, with only the pinned distributions importable.
    app = tmp_path / "app"
    for _, source, destination in (line.split() for line in dockerfile.splitlines() if line.startswith("COPY ")):
        copy = shutil.copytree if (built_repo / source).is_dir() else shutil.copy
        (app / destination).parent.mkdir(parents=True, exist_ok=True)
        copy(built_repo / source, app / destination)
    assert not (app / "stages").exists() and not (app / "flows").exists()
    port = free_port()
    serve = BLOCKER + "\nimport runpy; runpy.run_module('millrace.serving.app', run_name='__main__', alter_sys=True)"
    process = subprocess.Popen(
        [sys.executable, "-c", serve, json.dumps(list(pinned)), "--host", "127.0.0.1", "--port", str(port)],
        cwd=app,
        env={**tool_env(app), "PYTHONPATH": str(app)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_answers(f"{url}/ready", process, seconds=30)
        record = {"island": "Biscoe", "bill_length_mm": 47.5, "bill_depth_mm": 14.8}
        record |= {"flipper_length_mm": 217, "body_mass_g": 5200, "sex": "male"}
        reply = httpx.post(f"{url}/predict", json={"records": [record]}, timeout=10)
        assert reply.status_code == 200 and reply.json()["predictions"][0]["class"] == "Gentoo"
    finally:
        process.terminate()
        output = process.communicate(timeout=10)[0]
    assert "is not in the allowed distributions" not in output
