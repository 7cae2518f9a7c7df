"""The language-model demonstration: both presets for real on the bundled SmolLM2-135M-Instruct, through the
pipeline, base beside tuned.

- `routing_sft.yaml`: LoRA fine-tuning on an instruction set millrace writes from its own synthetic `reviews`
  messages (route a message to billing, delivery, quality or support). The base answers after three training
  examples (a fair chance at the format); answers are scored as written (exact match) and read leniently (the
  team a reply names). The claim to check: the tuned model beats the base by more than the intervals.
- `python_docs_pretraining.yaml`: continued pretraining on CPython's reference documentation; perplexity on
  held-out topics and on an unrelated control text, before and after.

Each preset runs in a clone of the committed project (`dvc repro`, every stage). Results, the presets' params,
the seed, wall times and the machine go to bench/results/llm_demo.json; the README's table is
`python -m bench.llm_demo --table`, and tests/project/test_llm_demo_table.py checks the two agree.
Run: `make llm-demo` (about half an hour on 2 CPU cores).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from bench import results_dir, write_results
from bench.quality import _env

ROOT = Path(__file__).resolve().parents[1]
PRESETS = {
    "routing_sft": "examples/routing_sft.yaml",
    "python_docs_pretraining": "examples/python_docs_pretraining.yaml",
}
SFT_METRICS = ("extracted_match", "exact_match", "rouge_l", "perplexity")
PRETRAINING_METRICS = ("perplexity", "control_perplexity")


def run_preset(name: str, folder: Path) -> dict[str, Any]:
    repo = folder / name
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True)
    env = _env()
    subprocess.run(["millrace", "preset", PRESETS[name]], cwd=repo, env=env, check=True, capture_output=True)
    started = time.perf_counter()
    ran = subprocess.run(["dvc", "repro"], cwd=repo, env=env, capture_output=True, text=True)
    seconds = time.perf_counter() - started
    if ran.returncode != 0:
        raise SystemExit(f"{name}: dvc repro failed\n{ran.stdout[-3000:]}\n{ran.stderr[-3000:]}")
    report = json.loads((repo / "reports/evaluate/metrics.json").read_text())
    trained = json.loads((repo / "models/train/model.json").read_text())
    labels = json.loads((repo / "reports/labels.json").read_text())
    metrics = SFT_METRICS if report["task"] == "sft" else PRETRAINING_METRICS
    intervals = {"base": report.get("base_intervals", {}), "tuned": report.get("confidence_intervals", {})}
    return {
        "preset": name,
        "params": (ROOT / PRESETS[name]).read_text(),
        "task": report["task"],
        "base": report["model"]["base"],
        "strategy": report["model"]["strategy"],
        "trainable_params": trained["trainable_params"],
        "total_params": trained["total_params"],
        "examples": labels["rows"],
        "tokens": {split: figures["tokens"] for split, figures in labels["tokens"].items()},
        "metrics": {m: {"base": report["base"][m], "tuned": report["tuned"][m]} for m in metrics},
        "intervals": {who: {m: found[m] for m in metrics if m in found} for who, found in intervals.items()},
        "delivery": report["delivery"]["passed"],
        "base_prompt": report.get("base_prompt"),
        "epochs": trained["epochs_run"],
        "pipeline_seconds": round(seconds, 1),
    }


def _interval(found: dict[str, Any], metric: str) -> str:
    span = found.get(metric)
    return f" ({span['low']:.3f}–{span['high']:.3f})" if span else ""


def table(results: list[dict[str, Any]]) -> str:
    lines = [
        "| preset | task, strategy | training examples | metric (test split) | base | tuned | pipeline |",
        "|---|---|---:|---|---:|---:|---:|",
    ]
    for r in results:
        for metric, values in r["metrics"].items():
            lines.append(
                f"| {r['preset']} | {r['task']}, {r['strategy']} | {r['examples']['train']} "
                f"| {metric.replace('_', ' ')} "
                f"| {values['base']:.3f}{_interval(r['intervals']['base'], metric)} "
                f"| {values['tuned']:.3f}{_interval(r['intervals']['tuned'], metric)} "
                f"| {r['pipeline_seconds'] / 60:.1f} min |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", choices=sorted(PRESETS), help="run one preset, keeping the other's figures")
    parser.add_argument("--table", action="store_true", help="print the README's table from the results file")
    args = parser.parse_args()
    path = results_dir() / "llm_demo.json"
    if args.table:
        print(table(json.loads(path.read_text())["presets"]))
        return
    previous = {r["preset"]: r for r in json.loads(path.read_text())["presets"]} if path.exists() and args.only else {}
    with tempfile.TemporaryDirectory(prefix="millrace-llm-demo-") as folder:
        for name in [args.only] if args.only else list(PRESETS):
            previous[name] = run_preset(name, Path(folder))
            print(json.dumps({k: v for k, v in previous[name].items() if k != "params"}))
    from bench.tabular import machine_info
    from millrace.config.params import load_params

    record = {
        "what": "SmolLM2-135M-Instruct (Q4_1 GGUF, dequantised) before and after millrace's pipeline, test split",
        "seed": load_params(ROOT / "params.yaml").seed,
        "machine": machine_info(),
        "presets": [previous[name] for name in PRESETS if name in previous],
    }
    print(f"wrote {write_results('llm_demo', record)}")
    print(table(record["presets"]))


if __name__ == "__main__":
    main()
