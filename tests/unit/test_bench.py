"""The benchmarks keep up with the code: their params parse and they train the model they claim."""

from bench.tabular import SELECTION, bench_params
from stages.train import model_spec


def test_benchmark_params_parse_and_pin_the_512_512_256_mlp():
    params = bench_params("cpu", "32-true", epochs=1, batch=32)
    spec = model_spec(SELECTION, params.model)
    assert spec["hidden"] == [512, 512, 256] and spec["strategy"] == "full"
