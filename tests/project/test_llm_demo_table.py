"""The README's language-model table is the one bench/llm_demo.py makes from bench/results/llm_demo.json, both
presets are in it, the file records what a rerun needs (params, seed, machine, wall times), and it shows what
the demonstration is for: the fine-tuned model ahead of the base by more than the intervals, and continued
pretraining gaining more on its domain than on the unrelated control text."""

import json

from bench.llm_demo import PRESETS, table
from tests.conftest import ROOT

RESULTS = ROOT / "bench/results/llm_demo.json"


def load() -> dict:
    return json.loads(RESULTS.read_text())


def test_the_readme_shows_the_results_file_as_the_bench_renders_it():
    record = load()
    assert [r["preset"] for r in record["presets"]] == list(PRESETS)
    assert table(record["presets"]) in (ROOT / "README.md").read_text()
    assert record["machine"] and isinstance(record["seed"], int)
    for r in record["presets"]:
        assert r["params"] == (ROOT / PRESETS[r["preset"]]).read_text() and r["pipeline_seconds"] > 0


def test_the_fine_tuned_model_is_ahead_of_the_base_by_more_than_the_intervals():
    by_task = {r["task"]: r for r in load()["presets"]}
    sft = by_task["sft"]["intervals"]
    assert sft["tuned"]["extracted_match"]["low"] > sft["base"]["extracted_match"]["high"]


def test_continued_pretraining_gains_more_on_its_domain_than_on_the_control_text():
    figures = {r["task"]: r for r in load()["presets"]}["pretraining"]["metrics"]
    domain = figures["perplexity"]["base"] / figures["perplexity"]["tuned"]
    control = figures["control_perplexity"]["base"] / figures["control_perplexity"]["tuned"]
    assert domain > control > 0 and domain > 1
