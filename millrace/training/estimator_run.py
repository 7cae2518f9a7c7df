"""The training run of a family that is not a torch module (trees, linear): the input plan fitted on the training
split, the model fitted with early stopping on the validation split, each round's train and validation loss
logged with dvclive (the same files and plots as a Lightning run's), and the model saved in its library's own
format beside model.json and the plan."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from millrace.errors import MillraceError


def run(label_dir: Path, selection: dict[str, Any], params, out: Path, live_dir: Path | None) -> dict[str, Any]:
    """Fit, log the curves (unless `live_dir` is None: a portfolio's judging fits keep none), save to `out`; return
    what model.json records."""
    import pandas as pd
    from dvclive import Live

    from millrace.files import read_json, write_json
    from millrace.inputs import plans
    from millrace.models import estimators
    from millrace.models.catalogue import FAMILIES
    from millrace.models.category_codes import CategoryCodes
    from millrace.models.trained_model import META
    from millrace.precision import rounded
    from millrace.training.fit import model_spec

    engine = FAMILIES[selection["family"]].engine
    estimators.refuse_accelerator(params.train.accelerator, engine)
    labels = read_json(label_dir / "label_map.json")
    task, classes = labels.get("task", "classification"), labels["classes"]
    train_frame = pd.read_parquet(label_dir / "train.parquet")
    val_frame = pd.read_parquet(label_dir / "val.parquet")
    plan = plans.fit(train_frame, params)
    if plan.kind != "tabular":
        raise MillraceError(f"model.name: {selection['family']} trains on tables; this data is {plan.kind}")
    spec = {k: v for k, v in model_spec(selection, params.model).items() if k not in ("dropout", "lora")}
    (name,) = plan.input_names

    def split(frame: pd.DataFrame):
        return plan.encode(frame)[name], frame["label"].to_numpy()

    codes = CategoryCodes.of(plan)
    model, curves, best = estimators.fit(
        engine, selection["family"], task, len(classes), spec, split(train_frame), split(val_frame), params.seed, codes
    )
    if live_dir is not None:
        live = Live(dir=str(live_dir), save_dvc_exp=False, dvcyaml=False, report=None)
        live.log_params(spec)
        # The rounds are over: each is logged at its step and the summary written once, at the end (next_step
        # would rewrite it after every round, ~4 ms a round).
        for step, (train_loss, val_loss) in enumerate(zip(curves["train"], curves["val"], strict=True)):
            live.step = step
            live.log_metric("train/loss", rounded(float(train_loss)))
            live.log_metric("val/loss", rounded(float(val_loss)))
        live.end()
    meta: dict[str, Any] = {
        "family": selection["family"],
        "engine": engine,
        "task": task,
        "model": spec,
        "classes": classes,
        "target": params.data.target,
        "best_round": best,
        "rounds_run": len(curves["val"]),
        "best_val_loss": rounded(float(curves["val"][best - 1])),
        "loss": estimators.CURVE[task],
        "nodes": model.nodes(),
    }
    if getattr(model, "codes", None) is not None:  # LightGBM, XGBoost: the one-hot blocks they read as codes
        meta["category_codes"] = model.codes.to_json()
    model.save(out)
    write_json(out / META, meta)
    plans.save(plan, out)
    return meta
