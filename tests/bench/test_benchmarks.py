"""The benchmarks keep up with the code: their params parse and they train the model they claim."""

import json
import math
import os
import subprocess
import sys

import pytest

from bench.tabular import arguments, bench_params, result_name, selection
from millrace.training.fit import model_spec


def test_benchmark_params_parse_and_pin_the_512_512_256_mlp():
    params = bench_params("cpu", "32-true", epochs=1, batch=32)
    spec = model_spec(selection(), params.model)
    assert spec["hidden"] == [512, 512, 256] and spec["strategy"] == "full"


def test_a_wider_benchmark_model_trains_that_width_and_keeps_its_own_results():
    args = arguments("").parse_args(["--hidden", "4096,4096,4096"])
    spec = model_spec(selection(args.hidden), bench_params("cpu", "32-true", epochs=1, batch=32).model)
    assert spec["hidden"] == [4096, 4096, 4096]
    assert result_name("train_accelerators", args.hidden) == "train_accelerators_mlp4096-4096-4096"
    assert result_name("train_accelerators", arguments("").parse_args([]).hidden) == "train_accelerators"


def test_the_gate_benchmark_floor_checks_what_the_suite_checks(penguins):
    from bench.gates import pandas_checks
    from millrace.quality.gates import load_suite
    from tests.conftest import ROOT

    suite = load_suite(ROOT / "gx", "penguins_raw")
    assert pandas_checks(penguins, suite)
    assert not pandas_checks(penguins.assign(island="Atlantis"), suite)
    assert not pandas_checks(penguins.assign(species=None), suite)


def test_the_scaling_table_is_nearly_all_distinct_rows_that_pass_both_penguins_contracts():
    from bench.gates import pandas_checks
    from bench.scaling import synthetic_penguins
    from millrace.quality.gates import load_suite
    from tests.conftest import ROOT

    table = synthetic_penguins(5_000)
    # Penguins' two rows without measurements stay alike however they are jittered.
    assert len(table) == 5_000 and table.duplicated().mean() < 0.01
    assert pandas_checks(table, load_suite(ROOT / "gx", "penguins_raw"))
    assert pandas_checks(table.dropna(), load_suite(ROOT / "gx", "penguins_clean"))


def test_the_load_generator_counts_every_answer_and_every_error():
    """Against a keep-alive server that answers 200 to every third body and 422 to the rest: each answer read
    whole (the next request goes out on the same connection), its status counted."""
    import asyncio
    import json
    import threading
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

    from bench.loadgen import run

    seen = []

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            seen.append(body["n"])
            answer = b'{"ok": true}' + b" " * body["n"]
            self.send_response(200 if body["n"] % 3 == 0 else 422)
            self.send_header("Content-Length", str(len(answer)))
            self.end_headers()
            self.wfile.write(answer)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/predict"
        result = asyncio.run(run(url, 3, 0.5, [{"n": n} for n in range(9)]))
    finally:
        server.shutdown()
    answered = len(result["latencies_ms"])
    assert answered == len(seen) and answered > 9
    assert result["errors"] == sum(n % 3 != 0 for n in seen)
    assert 0 < min(result["latencies_ms"]) and result["elapsed_s"] >= 0.5


def test_the_scaling_bench_measures_its_commands_peak_not_its_own(tmp_path):
    """A child forked from the bench would report the bench's own peak (Linux keeps it across exec)."""
    import sys

    import pytest

    from bench.scaling import measured

    held = b"x" * (300 << 20)  # the bench holding its synthetic tables
    _, small = measured(tmp_path, sys.executable, "-c", "pass")
    _, large = measured(tmp_path, sys.executable, "-c", "x = b'y' * (200 << 20)")
    assert small < 100 << 20 and large > 200 << 20
    with pytest.raises(SystemExit, match="failed"):
        measured(tmp_path, sys.executable, "-c", "import sys; print('bad'); sys.exit(3)")
    del held


def test_the_serving_bench_says_which_outputs_a_project_lacks_instead_of_a_traceback(tmp_path):
    import shutil

    from bench.serving import Deployed
    from tests.conftest import ROOT

    with pytest.raises(SystemExit, match="no params.yaml"):
        Deployed.of(tmp_path)
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    with pytest.raises(SystemExit, match=r"missing .*models/deploy/manifest\.json.*data/label/test\.parquet.*make run"):
        Deployed.of(tmp_path)


def test_dvc_alone_stages_copy_back_exactly_the_outputs_a_run_made(tmp_path):
    """The pipeline-overhead bench's DVC-alone copy: each stage's command puts its outputs (folders and
    files, odd names too) back as the real stage left them, so DVC hashes and caches the same outputs."""
    from bench.pipeline_overhead import restoring_command

    stash, project = tmp_path / "stash", tmp_path / "project"
    outputs = ["data/label", "reports/gates/labels ge.json"]
    (stash / "data/label/split").mkdir(parents=True)
    (stash / "data/label/split/train.parquet").write_bytes(b"rows")
    (stash / "reports/gates").mkdir(parents=True)
    (stash / "reports/gates/labels ge.json").write_text('{"success": true}')
    (project / "data").mkdir(parents=True)  # DVC removes a stage's outputs, not their folders, before its command
    (project / "reports/gates").mkdir(parents=True)

    subprocess.run(["sh", "-c", restoring_command(outputs, stash)], cwd=project, check=True)

    assert (project / "data/label/split/train.parquet").read_bytes() == b"rows"
    assert (project / "reports/gates/labels ge.json").read_text() == '{"success": true}'
    assert sorted(p.relative_to(project).as_posix() for p in project.rglob("*") if p.is_file()) == [
        "data/label/split/train.parquet",
        "reports/gates/labels ge.json",
    ]


SMALL_RUNS = {
    "gates": ["--repeats", "1", "--sizes", "2000"],
    "scaling": ["--repeats", "1", "--sizes", "2000,4000"],
    "training_loop": ["--rows", "2000", "--epochs", "2", "--repeats", "1", "--hidden", "16,16"],
    "train_accelerators": ["--rows", "2000", "--epochs", "2", "--repeats", "1", "--hidden", "16,16"],
    # Builds its model with a cold `dvc repro` in a copy of the project, as `make bench` on a fresh clone does.
    "serving": ["--seconds", "0.5", "--repeats", "1"],
    "lm_training": ["--tiny", "--steps", "4", "--repeats", "1"],  # a random tiny Llama, SmolLM2's tokenizer
    "llm_serving": ["--tiny", "--tokens", "4", "--repeats", "1"],
}


def _ratios(record) -> list[float]:
    """Every figure named as a ratio (`…ratio…`, `a_over_b`) anywhere in a bench's record."""
    if isinstance(record, dict):
        named = [value for key, value in record.items() if "ratio" in key or "_over_" in key]
        found = [value for value in named if isinstance(value, float)]
        return found + [ratio for value in record.values() for ratio in _ratios(value)]
    return [ratio for value in record for ratio in _ratios(value)] if isinstance(record, list) else []


@pytest.mark.slow
@pytest.mark.parametrize("bench", list(SMALL_RUNS))
def test_a_benchmark_runs_end_to_end_and_writes_its_results_where_it_is_told(bench, tmp_path):
    """`make bench` is not run in CI: a small run of each bench but the two timing whole pipelines keeps it working."""
    from millrace.environment import QUIET_ENV
    from tests.conftest import ROOT

    quoted = {path.name: path.read_bytes() for path in (ROOT / "bench" / "results").glob("*.json")}
    env = {**os.environ, **QUIET_ENV, "PYTHONPATH": str(ROOT), "MILLRACE_BENCH_RESULTS": str(tmp_path)}
    ran = subprocess.run(
        [sys.executable, "-m", f"bench.{bench}", *SMALL_RUNS[bench]], cwd=ROOT, env=env, capture_output=True, text=True
    )
    assert ran.returncode == 0, ran.stderr[-3000:]
    (written,) = tmp_path.glob("*.json")
    assert written.name.startswith(bench)
    if bench == "train_accelerators":  # a run without a GPU must not replace a GPU machine's figures
        import torch

        assert ("_cpu_" in written.name) is not torch.cuda.is_available()
    ratios = _ratios(json.loads(written.read_text()))
    # A few rows make noisy figures (a peak may even fall between the two sizes): measured, not judged.
    assert ratios and all(math.isfinite(ratio) for ratio in ratios) and max(ratios) > 0
    assert "ratio" in ran.stdout or "×" in ran.stdout  # the table was printed
    assert {path.name: path.read_bytes() for path in (ROOT / "bench" / "results").glob("*.json")} == quoted


def test_the_tree_benchmark_fits_both_ways_and_times_both_runtimes(tmp_path, monkeypatch):
    from bench.trees import main

    monkeypatch.setenv("MILLRACE_BENCH_RESULTS", str(tmp_path))
    results = main(["--rows", "2000", "--rounds", "5", "--repeats", "1"])
    assert json.loads((tmp_path / "trees_2000rows.json").read_text()) == results
    for family in ("lightgbm", "xgboost"):
        found = results["families"][family]
        assert found["fit_train_stage_s"] > 0 and found["fit_direct_s"] > 0
        assert found["onnx_vs_native_batch1"] > 0 and found["onnx_vs_native_batch1024"] > 0


def test_the_portfolio_benchmark_times_judging_and_the_winners_fit_against_the_budget(tmp_path, monkeypatch):
    from bench.portfolio import main

    monkeypatch.setenv("MILLRACE_BENCH_RESULTS", str(tmp_path))
    results = main(["--rows", "400", "--budget", "0.05"])
    assert json.loads((tmp_path / "portfolio.json").read_text()) == results
    (run,) = results["runs"]
    assert run["judged_by"] == "5-fold cross-validation" and run["budget_seconds"] == 3.0
    assert 1 <= run["candidates_judged"] < run["candidates"]  # 3 s: the cheapest judged, the rest not tried
    assert run["with_export_seconds"] >= run["select_and_train_seconds"] >= run["select_seconds"] > 0


def test_the_breast_cancer_table_as_brought_has_what_a_users_table_has_and_its_roles_are_found():
    from bench.quality import breast_cancer_as_brought
    from millrace.inputs import roles
    from tests.helpers.params import data

    table = breast_cancer_as_brought()
    assert table["diagnosis"].isin(["benign", "malignant"]).all() and table["patient_id"].is_unique
    assert table.drop(columns="diagnosis").isna().any(axis=0).sum() == 4  # four measurements with gaps
    used, left_out = roles.feature_roles(table.drop(columns="diagnosis"), data(target="diagnosis", features=None))
    assert "patient_id" in left_out and "identifier" in str(left_out["patient_id"])
    assert "text" in str(used["notes"]) and len(used) == 31  # the notes and the 30 measurements
