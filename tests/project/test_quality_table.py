"""The README's model-quality table is the one bench/quality.py makes from bench/results/quality.json, every
table is in it, and each row's verdict follows from its own figures: the portfolio winner's held-out score is at
least the best baseline's on the same folds minus one standard error."""

import json

from bench.quality import TABLES, table
from tests.conftest import ROOT

RESULTS = ROOT / "bench/results/quality.json"


def test_the_readme_shows_the_results_file_as_the_bench_renders_it():
    results = json.loads(RESULTS.read_text())["tables"]
    assert [r["table"] for r in results] == list(TABLES)
    assert table(results) in (ROOT / "README.md").read_text()


def test_each_verdict_follows_from_the_figures_and_the_model_holds_its_own():
    for r in json.loads(RESULTS.read_text())["tables"]:
        held = r["held_out"]
        assert held["error"] is not None and held["metric"] == r["metric"]  # judged by cross-validation
        assert r["meets"] == (held["score"] >= held["baseline"]["score"] - held["error"]), r["table"]
        assert r["meets"], f"{r['table']}: the winner is more than one standard error behind {held['baseline']}"
        low, high = r["model_test_interval"]
        assert low <= r["model_test"] <= high
