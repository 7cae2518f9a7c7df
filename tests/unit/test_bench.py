"""The benchmarks keep up with the code: their params parse and they train the model they claim."""

from bench.tabular import arguments, bench_params, result_name, selection
from stages.train import model_spec


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
    from stages.gate import load_suite
    from tests.conftest import ROOT

    suite = load_suite(ROOT / "gx", "penguins_raw")
    assert pandas_checks(penguins, suite)
    assert not pandas_checks(penguins.assign(island="Atlantis"), suite)
    assert not pandas_checks(penguins.assign(species=None), suite)


def test_the_scaling_table_is_nearly_all_distinct_rows_that_pass_both_penguins_contracts():
    from bench.gates import pandas_checks
    from bench.scaling import synthetic_penguins
    from stages.gate import load_suite
    from tests.conftest import ROOT

    table = synthetic_penguins(5_000)
    # Penguins' two rows without measurements stay alike however they are jittered.
    assert len(table) == 5_000 and table.duplicated().mean() < 0.01
    assert pandas_checks(table, load_suite(ROOT / "gx", "penguins_raw"))
    assert pandas_checks(table.dropna(), load_suite(ROOT / "gx", "penguins_clean"))
