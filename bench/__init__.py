"""Benchmarks: each measures millrace beside a reference in one run and prints the ratio.

Results go to bench/results/<name>.json, or to the folder MILLRACE_BENCH_RESULTS names (the smoke
tests run the benches there, so a test never overwrites the figures the README quotes).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

DEFAULT_RESULTS = Path(__file__).parent / "results"


def results_dir() -> Path:
    return Path(os.environ.get("MILLRACE_BENCH_RESULTS") or DEFAULT_RESULTS)


def write_results(name: str, record: dict) -> Path:
    """Write `<name>.json` whole or not at all: a bench stopped mid-write keeps the previous figures."""
    path = results_dir() / f"{name}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f".{path.name}.partial")
    partial.write_text(json.dumps(record, indent=2) + "\n")
    partial.replace(path)
    return path
