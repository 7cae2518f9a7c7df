"""Gradient-boosted trees, side by side in one run: the train stage's tree path against the library called
directly on the same arrays (fit overhead), and the deployed ONNX graph against the library's own predict
(batch 1 and 1024).

The train stage's figure includes what it does besides boosting: reading the splits, fitting and applying the
input plan, logging each round with dvclive and saving. Both fits run the same rounds with the same row weights
and evaluation sets (early stopping never triggers: a fixed number of rounds), so they do the same boosting
work. Synthetic data (scikit-learn's
make_classification), made by the benchmark. `python -m bench.trees [--rows N] [--rounds R] [--repeats K]`; results in
bench/results/trees.json, or trees_<N>rows.json for another size (bench/__init__.py).
"""

from __future__ import annotations

import json
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np

from bench import write_results
from bench.tabular import machine_info, make_split
from millrace.config.params import parse_params
from millrace.models import trees
from millrace.models.catalogue import FAMILIES

CLASSES = 3
DEFAULT_ROWS = 200_000  # results of another size go beside these, named by the rows
FEATURES = 20
LATENCY_RUNS = 200


def settings_for(rounds: int):
    """The params and the tree options the train stage gets: a fixed number of rounds."""
    return parse_params(
        {
            "seed": 0,
            "data": {"source": {"kind": "file", "path": "synthetic.parquet"}, "target": "y", "features": None},
            "clean": {"outliers": {"method": "none"}},
        }
    ), {"n_estimators": rounds, "early_stopping_rounds": rounds + 1}


def fit_stage(family: str, split: Path, rounds: int, out: Path) -> float:
    from millrace.training import estimator_run

    settings, options = settings_for(rounds)
    selection = {"family": family, "size": "medium", "options": options}
    (out / "model").mkdir(parents=True)
    started = time.perf_counter()
    estimator_run.run(split, selection, settings, out / "model", out / "live")
    return time.perf_counter() - started


def fit_direct(family: str, split: Path, rounds: int) -> float:
    import lightgbm
    import pandas as pd
    import xgboost

    train, val = (pd.read_parquet(split / f"{name}.parquet") for name in ("train", "val"))
    columns = [c for c in train.columns if c.startswith("f")]
    x, y = train[columns].to_numpy(np.float32), train["label"].to_numpy()
    xv, yv = val[columns].to_numpy(np.float32), val["label"].to_numpy()
    spec = FAMILIES[family].sizes["medium"]
    weights = trees.balanced_weights(y, CLASSES)  # as the stage weighs them (class_weight: balanced)
    started = time.perf_counter()
    if family == "lightgbm":
        model = lightgbm.LGBMClassifier(
            n_estimators=rounds,
            learning_rate=spec["learning_rate"],
            num_leaves=spec["num_leaves"],
            min_child_samples=spec["min_child_samples"],
            deterministic=True,
            force_row_wise=True,
            verbose=-1,
        )
        model.fit(x, y, sample_weight=weights, eval_X=(x, xv), eval_y=(y, yv))
    else:
        model = xgboost.XGBClassifier(
            n_estimators=rounds, learning_rate=spec["learning_rate"], max_depth=spec["max_depth"], tree_method="hist"
        )
        model.fit(x, y, sample_weight=weights, eval_set=[(x, y), (xv, yv)], verbose=False)
    return time.perf_counter() - started


def inference(model_dir: Path, family: str) -> dict[str, float]:
    """p50 milliseconds per call, ONNX Runtime against the library's own predict, at batch 1 and 1024."""
    import onnxruntime

    from millrace.inputs import plans

    meta = json.loads((model_dir / "model.json").read_text())
    model = trees.TreeModel.load(model_dir, family, meta["task"], len(meta["classes"]))
    columns = plans.load(model_dir).width
    rng = np.random.default_rng(0)
    graph = model.to_onnx(columns, "features", "probabilities")
    session = onnxruntime.InferenceSession(graph.SerializeToString(), providers=["CPUExecutionProvider"])
    found = {}
    for batch in (1, 1024):
        features = rng.normal(size=(batch, columns)).astype(np.float32)
        for name, call in (
            ("onnx", lambda f=features: session.run(None, {"features": f})),
            ("native", lambda f=features: model.outputs(f)),
        ):
            call()
            times = []
            for _ in range(LATENCY_RUNS if batch == 1 else 20):
                started = time.perf_counter()
                call()
                times.append(time.perf_counter() - started)
            found[f"{name}_batch{batch}_ms"] = round(statistics.median(times) * 1000, 4)
        found[f"onnx_vs_native_batch{batch}"] = round(
            found[f"onnx_batch{batch}_ms"] / found[f"native_batch{batch}_ms"], 3
        )
    return found


def main(argv: list[str] | None = None) -> dict:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=DEFAULT_ROWS)
    parser.add_argument("--rounds", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3, help="fits each way, alternated; medians reported")
    args = parser.parse_args(argv)
    results = {"rows": args.rows, "features": FEATURES, "rounds": args.rounds, "data": "synthetic", "families": {}}
    with tempfile.TemporaryDirectory(prefix="millrace-bench-trees-") as scratch:
        split = Path(scratch) / "label"
        split.mkdir()
        make_split(split, args.rows, FEATURES, CLASSES)
        for family in ("lightgbm", "xgboost"):
            direct, stage = [], []
            for repeat in range(args.repeats):
                out = Path(scratch) / f"{family}{repeat}"
                direct.append(fit_direct(family, split, args.rounds))
                stage.append(fit_stage(family, split, args.rounds, out))
            results["families"][family] = {
                "fit_direct_s": round(statistics.median(direct), 2),
                "fit_train_stage_s": round(statistics.median(stage), 2),
                "overhead": round(statistics.median(stage) / statistics.median(direct), 3),
                "fit_direct_runs_s": [round(t, 2) for t in direct],
                "fit_train_stage_runs_s": [round(t, 2) for t in stage],
                **inference(out / "model", family),
            }
    results["machine"] = machine_info()
    write_results("trees" if args.rows == DEFAULT_ROWS else f"trees_{args.rows}rows", results)
    print("| family | fit direct (s) | train stage (s) | overhead | ONNX / native, batch 1 | batch 1024 |")
    print("|---|---|---|---|---|---|")
    for family, found in results["families"].items():
        print(
            f"| {family} | {found['fit_direct_s']} | {found['fit_train_stage_s']} | {found['overhead']}× | "
            f"{found['onnx_vs_native_batch1']}× | {found['onnx_vs_native_batch1024']}× |"
        )
    return results


if __name__ == "__main__":
    main()
