"""Serving: the deployed model in-process and behind the real HTTP server, side by side.

1. Engines, in-process, on the deployed bundle's test rows: ONNX Runtime fp32 and int8 against
   torch eager (the trained checkpoint's serving model), rows per second at batch 1 and 32.
2. HTTP: the real uvicorn server (request logging on, as deployed) on a loopback port, fp32 and
   int8 graphs, 1 and 32 concurrent clients sending one record per request for a few seconds:
   p50/p99 latency, requests per second, errors; the floor is the same bundle called in-process
   for one record, so the table shows HTTP's share of each request.
3. The fitted preprocessing in the request path: the fp32 server as deployed against the same server on
   the same bundle whose preprocess.json is cut back to what serving did before the model carried its
   preprocessing (scaling and vocabularies: no text repair, clipping or cleaning rules), alternated in one
   run at 1 and 32 clients; and the preprocessing's share of a request (`plan.encode_records` for one
   record, in-process, over the request's p50 at one client). The records are the test split's as
   acquired, missing values included.

The model is the one `dvc repro` deploys from this checkout's committed params with the network family
pinned (`model.portfolio: [tabular_mlp]`: the portfolio's winner may have no torch eager run and no int8
graph), built in a temporary copy of the project (~20 s), so the figures do not depend on what the
workspace holds; `--project DIR` measures the model a finished pipeline in DIR deployed instead (its
params.yaml's paths: deploy, train, label). The clients are a lean closed-loop generator in a process of its own
(`bench/loadgen.py`, like wrk), sharing the cores with the server.
`python -m bench.serving [--seconds S] [--repeats N] [--project DIR]`; writes bench/results/serving.json.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from rich.console import Console
from rich.table import Table

from bench import write_results
from bench.pipeline_overhead import project_copy, sh
from millrace.ops.http_ready import free_port, wait_until_answers

ROOT = Path(__file__).resolve().parents[1]


@dataclass(frozen=True)
class Deployed:
    """Where a finished pipeline keeps what the bench serves (the bundle, the checkpoint, the test split),
    and the params it ran with, which the server runs with too."""

    deploy: Path
    train: Path
    label: Path
    params: dict

    @classmethod
    def of(cls, project: Path) -> Deployed:
        from millrace.models.network import META, WEIGHTS

        if not (project / "params.yaml").is_file():
            raise SystemExit(f"{project} is not a millrace project: it has no params.yaml")
        params = yaml.safe_load((project / "params.yaml").read_text())
        deployed = cls(*(project / params["paths"][name] for name in ("deploy", "train", "label")), params)
        needed = [deployed.deploy / "manifest.json", deployed.train / META, deployed.label / "test.parquet"]
        missing = [str(path) for path in needed if not path.is_file()]
        if missing:
            raise SystemExit(f"{project} has no finished pipeline (missing {', '.join(missing)}): run `make run` there")
        if not (deployed.train / WEIGHTS).is_file():
            family = json.loads((deployed.train / META).read_text())["family"]
            raise SystemExit(
                f"{project} deployed a {family} model; this bench compares a network's torch eager run with its "
                "fp32 and int8 graphs: set model.portfolio: [tabular_mlp] there and run `make run`"
            )
        return deployed


@contextmanager
def finished_project(project: Path | None):
    """DIR as given, or a temporary copy of this checkout's committed project after a cold `dvc repro`."""
    if project is not None:
        yield project.resolve()
        return
    with tempfile.TemporaryDirectory() as scratch:
        built = project_copy(Path(scratch) / "project")
        pin_network(built)
        print("running the pipeline in a temporary copy of the project for the model to serve …", flush=True)
        sh(built, "dvc", "repro")
        yield built


def pin_network(project: Path) -> None:
    """The MLP rather than the portfolio's winner: only a network has a torch eager run and an int8 graph."""
    params = project / "params.yaml"
    text, found = re.subn(r"^  portfolio: .*$", "  portfolio: [tabular_mlp]", params.read_text(), flags=re.M)
    if found != 1:
        raise SystemExit(f"{params}: no model.portfolio line to pin the network family with")
    params.write_text(text)
    sh(
        project,
        "git",
        "-c",
        "user.name=bench",
        "-c",
        "user.email=bench@millrace.invalid",
        "commit",
        "-qam",
        "the network",
    )


def rows_per_second(call, batch: int, seconds: float = 1.0) -> float:
    call()  # warm-up
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        call()
        done += batch
    return done / (time.perf_counter() - started)


def engines(deployed: Deployed, test: pd.DataFrame) -> dict[str, dict[int, float]]:
    import torch

    from millrace.models import trained_model
    from millrace.serving.bundle import Bundle

    model = trained_model.load(deployed.train)
    eager = model.serving_model().eval()
    found: dict[str, dict[int, float]] = {}
    for batch in (1, 32):
        rows = test.sample(batch, replace=True, random_state=0)
        encoded = model.plan.encode(rows)
        tensors = [torch.from_numpy(encoded[n]) for n in model.plan.input_names]

        def torch_call(tensors=tensors) -> None:
            with torch.no_grad():
                eager(*tensors)

        found.setdefault("torch eager", {})[batch] = rows_per_second(torch_call, batch)
        for variant in ("fp32", "int8"):
            bundle = Bundle(deployed.deploy, variant)
            feed = {n: encoded[n] for n in bundle.plan.input_names}
            found.setdefault(f"onnx {variant}", {})[batch] = rows_per_second(
                lambda b=bundle, f=feed: b.session.run(None, f), batch
            )
    return found


def server(
    deployed: Deployed, directory: Path, variant: str, bundle: Path | None = None
) -> tuple[subprocess.Popen, str]:
    """The real server, run in a scratch folder with the project's params, on a free port."""

    params = copy.deepcopy(deployed.params)
    params["serve"]["variant"] = variant
    params["paths"]["releases"] = str(directory / "releases")  # none: serve the deployed bundle
    params["paths"]["deploy"] = str(bundle or deployed.deploy)
    params["paths"]["monitoring"] = str(directory / "monitoring")
    (directory / "params.yaml").write_text(yaml.safe_dump(params))
    port = free_port()
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    process = subprocess.Popen(
        [sys.executable, "-m", "millrace.serving.app", "--port", str(port)],
        cwd=directory,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    if wait_until_answers(f"{url}/ready", process, seconds=30, poll=0.1):
        return process, url
    process.kill()
    raise RuntimeError("the server did not become ready")


def load(url: str, records: list[dict], clients: int, seconds: float) -> dict[str, float]:
    """`clients` keep-alive connections sending one record per request in a closed loop, from a lean
    generator in its own process (`bench/loadgen.py`)."""
    with tempfile.NamedTemporaryFile("w", suffix=".json") as bodies:
        json.dump([{"records": [record]} for record in records], bodies)
        bodies.flush()
        command = [sys.executable, "-m", "bench.loadgen", f"{url}/predict", str(clients), str(seconds), bodies.name]
        said = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True, timeout=seconds + 60)
    result = json.loads(said.stdout)
    latencies = np.array(result["latencies_ms"])
    return {
        "p50_ms": float(np.percentile(latencies, 50)),
        "p99_ms": float(np.percentile(latencies, 99)),
        "requests_per_second": len(latencies) / result["elapsed_s"],
        "errors": result["errors"],
    }


def as_before(bundle: Path, into: Path) -> Path:
    """A copy of the bundle whose plan does only what serving did before the model carried its preprocessing:
    scaling and category vocabularies (imputation stays: without it those records would be refused)."""
    from millrace.files import sha256

    shutil.copytree(bundle, into)
    path = into / "preprocess.json"
    plan = json.loads(path.read_text())
    plan["text_operations"], plan["rules"] = [], []
    for column in plan["columns"]:
        column["clip"] = None
    path.write_text(json.dumps(plan))
    manifest = json.loads((into / "manifest.json").read_text())
    manifest["files"]["preprocess.json"] = sha256(path)
    (into / "manifest.json").write_text(json.dumps(manifest))
    return into


def encode_single_ms(bundle_dir: Path, records: list[dict]) -> float:
    """The preprocessing alone, for one record at a time, in-process (median)."""
    from millrace.inputs import plans

    plan = plans.load(bundle_dir)
    plans.encode_records(plan, records[:1])
    timings = []
    for record in records[:200]:
        started = time.perf_counter()
        plans.encode_records(plan, [record])
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def in_process_single(deployed: Deployed, records: list[dict], variant: str) -> float:
    from millrace.serving.bundle import Bundle

    bundle = Bundle(deployed.deploy, variant)
    bundle.predict(records[:1])
    timings = []
    for record in records[:200]:
        started = time.perf_counter()
        bundle.predict([record])
        timings.append(time.perf_counter() - started)
    return statistics.median(timings) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--repeats", type=int, default=2)
    parser.add_argument("--project", type=Path, help="a finished pipeline's folder (default: build one)")
    args = parser.parse_args()
    with finished_project(args.project) as project:
        measure(args, project)


def measure(args: argparse.Namespace, project: Path) -> None:
    deployed = Deployed.of(project)
    manifest = json.loads((deployed.deploy / "manifest.json").read_text())
    test = pd.read_parquet(deployed.label / "test.parquet")
    features = manifest["features"]
    columns = list(features.get("roles") or {}) or [features.get("text_column") or features.get("image_column")]
    records = json.loads(test[columns].to_json(orient="records"))

    found_engines = engines(deployed, test)
    http: dict[str, dict[int, list[dict[str, float]]]] = {}
    tabular = manifest["kind"] == "tabular"
    with tempfile.TemporaryDirectory() as scratch:
        before = as_before(deployed.deploy, Path(scratch) / "bundle_as_before") if tabular else None
        sides = {"fp32": ("fp32", None), "int8": ("int8", None)}
        if before is not None:
            sides["fp32, preprocessing as before"] = ("fp32", before)
        for _ in range(args.repeats):
            for name, (variant, bundle) in sides.items():  # alternate the sides within each repeat
                directory = Path(scratch) / name.replace(" ", "_").replace(",", "")
                shutil.rmtree(directory, ignore_errors=True)
                directory.mkdir()
                process, url = server(deployed, directory, variant, bundle)
                try:
                    for clients in (1, 32):
                        http.setdefault(name, {}).setdefault(clients, []).append(
                            load(url, records, clients, args.seconds)
                        )
                finally:
                    process.terminate()
                    process.wait(timeout=10)
        floor = {variant: in_process_single(deployed, records, variant) for variant in ("fp32", "int8")}
        encode_ms = encode_single_ms(deployed.deploy, records)
        encode_before_ms = encode_single_ms(before, records) if before is not None else None
    floor["fp32, preprocessing as before"] = floor["fp32"]

    console = Console()
    engine_table = Table(title=f"engines in-process, rows/s ({os.cpu_count()} cores, {manifest['family']})")
    for column in ("engine", "batch 1", "batch 32", "× eager at 32"):
        engine_table.add_column(column, justify="right")
    eager32 = found_engines["torch eager"][32]
    for name, by_batch in found_engines.items():
        engine_table.add_row(name, f"{by_batch[1]:,.0f}", f"{by_batch[32]:,.0f}", f"{by_batch[32] / eager32:.2f}")
    console.print(engine_table)

    summary: dict[str, dict[int, dict[str, float]]] = {}
    http_table = Table(title=f"HTTP, one record per request, median of {args.repeats} × {args.seconds:g} s")
    for column in ("graph", "clients", "p50 ms", "p99 ms", "req/s", "errors", "in-process ms", "HTTP share"):
        http_table.add_column(column, justify="right")
    for variant, by_clients in http.items():
        for clients, runs in by_clients.items():
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            med["errors"] = sum(r["errors"] for r in runs)
            summary.setdefault(variant, {})[clients] = med
            # With one client a request's latency is its service time; with 32 it is mostly queueing.
            share = 1 - floor[variant] / med["p50_ms"] if clients == 1 else None
            http_table.add_row(
                variant,
                str(clients),
                f"{med['p50_ms']:.2f}",
                f"{med['p99_ms']:.2f}",
                f"{med['requests_per_second']:,.0f}",
                str(med["errors"]),
                f"{floor[variant]:.3f}",
                "" if share is None else f"{share:.0%}",
            )
    console.print(http_table)
    preprocessing = None
    if "fp32, preprocessing as before" in summary:
        with_it, without = summary["fp32"], summary["fp32, preprocessing as before"]
        preprocessing = {
            "throughput_ratio_at_32": with_it[32]["requests_per_second"] / without[32]["requests_per_second"],
            "p99_ms_at_32": with_it[32]["p99_ms"],
            "encode_single_record_ms": encode_ms,
            "encode_single_record_ms_as_before": encode_before_ms,
            "share_of_a_request": encode_ms / with_it[1]["p50_ms"],
        }
        console.print(
            f"fitted preprocessing: throughput {preprocessing['throughput_ratio_at_32']:.2f}× the server without it "
            f"at 32 clients (goal ≥ 0.9×), p99 {preprocessing['p99_ms_at_32']:.2f} ms (goal < 20 ms); encoding one "
            f"record {encode_ms:.3f} ms (as before: {encode_before_ms:.3f} ms), "
            f"{preprocessing['share_of_a_request']:.0%} of a request at one client"
        )
    record = {
        "args": {**vars(args), "project": None if args.project is None else str(args.project)},
        "machine": {"cpus": os.cpu_count(), "python": sys.version.split()[0]},
        "measured": time.strftime("%Y-%m-%d"),
        "model": {"family": manifest["family"], "version": manifest["version"]},
        "engines_rows_per_second": found_engines,
        "onnx_fp32_over_eager_at_32": found_engines["onnx fp32"][32] / eager32,
        "http": summary,
        "in_process_single_record_ms": floor,
        "fitted_preprocessing": preprocessing,
    }
    write_results("serving", record)


if __name__ == "__main__":
    main()
