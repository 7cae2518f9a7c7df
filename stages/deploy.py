"""deploy: export a model that met the delivery standard as a versioned, self-checking bundle.

Reads `<paths.train>/`, `<paths.label>/`, `reports/evaluate/metrics.json` and `deploy.*`; refuses a
model whose delivery decision failed, and a challenger worse than the champion (the active release,
scored on this same validation split) by more than `deploy.champion_tolerance` on the primary metric.
Every choice here is made on the validation split; the test split was scored once, by evaluate.
Writes `<paths.deploy>/` (model.onnx, model.torchscript.pt, preprocess.json [+ tokenizer.json for
text], manifest.json, MODEL_CARD.md) and `reports/deploy.json`, after checking that ONNX and
TorchScript give the checkpoint's outputs on the validation split (probabilities; for regression, values
within the tolerance relative to their size). LoRA adapters are merged into the exported weights.
The variants in `deploy.variants` (int8 quantisation, magnitude pruning) are built and measured
beside fp32 (size, validation metric, latency, throughput) and refused when they lose more than
`deploy.variant_tolerance`. `deploy.targets` adds `edge/` (a numpy + onnxruntime loader for tabular
models) and `cloud/` (Dockerfile, pinned requirements, guide). The bundle belongs to a named model
(`deploy.model_name`, or `<dataset>-<target>`) and is registered under `<paths.releases>/<model>/`, with its
lineage (commit, data hashes, environment, parent release); with `deploy.promote: auto` it becomes that
model's active release, which a running server picks up. The champion is that model's active release
only, and a model of another target or task may not take over its name. Inside `dvc exp run` nothing is
registered or promoted, and the champion comparison is recorded, not enforced: an experiment is not a
release.
Run: `python -m stages.deploy`.

A causal language model (`data.task` sft or pretraining) takes millrace/language/steps/deploy.py instead.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

import pandas as pd

from millrace.config.params import LANGUAGE_TASKS, TRAINING_SECTIONS, load_params
from millrace.errors import MillraceError
from millrace.files import atomic_dir, folder_sha256, read_json, sha256, write_json
from millrace.inputs import plans
from millrace.models import trained_model
from millrace.precision import rounded, write_figures
from millrace.release import deploy_targets, lineage, naming
from millrace.release.champion import champion_comparison
from millrace.release.exports import output_name

MANIFEST, CARD = "manifest.json", "MODEL_CARD.md"
PARITY_ROWS = 256  # validation rows checked for export parity
TIMINGS = Path(".millrace/logs/deploy_timings.json")  # latency and throughput differ run to run: not for git
# The params the manifest records: what made the model and the bundle. Each is a params dep of deploy in
# dvc.yaml, so the record is never older than params.yaml.
MANIFEST_PARAMS = TRAINING_SECTIONS | {"deploy"}


class DeployRefused(MillraceError):
    """The model did not meet the delivery standard, or an export disagrees with it."""


def check_delivery(report: dict[str, Any]) -> None:
    decision = report["delivery"]
    if not decision["passed"]:
        raise DeployRefused(
            "refusing to deploy: the model does not meet the delivery standard: " + "; ".join(decision["reasons"])
        )


def run(trained, val: pd.DataFrame, evaluation: dict[str, Any], settings, out: Path) -> dict[str, Any]:
    """Export into `out`, verify parity, build and measure the optimised variants on the validation split;
    return the figures."""
    check_delivery(evaluation)
    inputs = trained.plan.encode(val.iloc[:PARITY_ROWS])
    figures = trained.engine.export(trained, inputs, out)
    check_parity(figures, settings.parity_tolerance)
    variants = trained.engine.variants(trained, trained.plan.encode(val), val["label"].to_numpy(), out, settings)
    plans.save(trained.plan, out)
    timings = {name: measured.pop("timings") for name, measured in variants.items()}
    return {"parity": {k: rounded(v) for k, v in figures.items()}, "variants": variants, "timings": timings}


def check_parity(figures: dict[str, Any], tolerance: float) -> None:
    """Every export gives the trained model's outputs on the validation rows checked, within the tolerance."""
    for name in sorted({key.split("_")[0] for key in figures}):
        if figures[f"{name}_max_abs_diff"] > tolerance or not figures[f"{name}_same_predictions"]:
            raise DeployRefused(
                f"{name} export disagrees with the checkpoint on the validation split: max abs difference "
                f"{figures[f'{name}_max_abs_diff']:.2e} (tolerance {tolerance:g}), "
                f"same predictions: {figures[f'{name}_same_predictions']}"
            )


def check_same_model(champion_dir: Path, trained, name: str) -> None:
    """A name is one model: a model of another target or task may not take over its releases."""
    found = read_json(champion_dir / MANIFEST)
    theirs, ours = (found.get("target"), found.get("task")), (trained.meta["target"], trained.task)
    if theirs != ours:
        raise DeployRefused(
            f"refusing to deploy: model {name!r} is a {theirs[1]} model of {theirs[0]!r} (active release "
            f"{found['version']}); this one is a {ours[1]} model of {ours[0]!r}. Set deploy.model_name to a name of "
            "its own, or null for <dataset>-<target>"
        )


def manifest(trained, out: Path, label_dir: Path, evaluation: dict, figures: dict, params) -> dict[str, Any]:
    files = {p.name: sha256(p) for p in sorted(out.iterdir())}
    weights = sha256(trained_model.weights_file(params.paths.train, trained.meta))
    # The version names the content, not the time: the same weights and graphs are the same version, and
    # a bundle made again from the same commit is the same bytes (its hash in dvc.lock does not move).
    content = hashlib.sha256(json.dumps({"weights": weights, "files": files}, sort_keys=True).encode()).hexdigest()
    return {
        "version": f"{weights[:8]}-{content[:8]}",
        "model_name": naming.model_name(params),
        "weights_sha256": weights,
        "family": trained.meta["family"],
        "strategy": trained.meta["model"]["strategy"],
        "task": trained.task,
        "kind": trained.plan.kind,
        "target": trained.meta["target"],
        "classes": trained.classes,
        "features": trained.plan.describe(),
        "signature": trained.plan.signature() if hasattr(trained.plan, "signature") else None,
        "inputs": list(trained.plan.input_names),
        "output": output_name(trained.task),
        "data_sha256": folder_sha256(label_dir),
        "lineage": {"data": lineage.data_hashes(params.paths.label, params.paths.train)},
        "params": params.model_dump(mode="json", include=MANIFEST_PARAMS),
        "metrics": {
            split: {k: v for k, v in evaluation[split].items() if k != "per_class"}
            for split in ("validation", "test")
            if split in evaluation
        },
        "delivery": evaluation["delivery"],
        "parity": figures,
        "files": files,
    }


def main() -> None:
    import os

    from millrace.evaluation import model_card
    from millrace.release import registry

    params = load_params()
    if params.data.task in LANGUAGE_TASKS:  # a causal language model: millrace/language/steps
        from millrace.language.steps import deploy as language

        language.main(params)
        return
    evaluation = read_json(Path(params.paths.reports) / "evaluate" / "metrics.json")
    model = trained_model.load(params.paths.train)
    label_dir = Path(params.paths.label)
    val = pd.read_parquet(label_dir / "val.parquet")
    experiment = os.environ.get("DVC_EXP_NAME")  # dvc exp run sets it for the stages it runs
    check_delivery(evaluation)
    name = naming.model_name(params)
    home = Path(params.paths.releases) / name
    if not experiment:
        adopted = registry.adopt_flat_layout(params.paths.releases, naming.of_manifest)
        if adopted:
            print(f"releases kept before named models were moved to {Path(params.paths.releases) / adopted}/")
    champion_dir = registry.active_dir(home)
    champion = None
    if champion_dir is not None:
        if not experiment:
            check_same_model(champion_dir, model, name)
        champion = champion_comparison(champion_dir, model, val, evaluation, params.deploy.champion_tolerance)
        if champion.get("passed") is False and not experiment:
            raise DeployRefused(
                f"refusing to deploy: validation {champion['metric']} {champion['challenger']:.4f} is worse than "
                f"the active release {champion['version']}'s {champion['champion']:.4f} on the same validation split "
                f"by more than deploy.champion_tolerance ({champion['tolerance']:g})"
            )
    with atomic_dir(params.paths.deploy) as out:
        built = run(model, val, evaluation, params.deploy, out)
        figures = built["parity"]
        info = manifest(model, out, label_dir, evaluation, figures, params)
        info |= {"champion": champion, "variants": built["variants"]}
        labels = read_json(label_dir / "label_map.json")
        (out / CARD).write_text(model_card.render(info, evaluation, labels))
        info["files"][CARD] = sha256(out / CARD)
        info["targets"] = deploy_targets.write(params.deploy.targets, out, info, params)
        info["files"] |= {f"{d.name}/": folder_sha256(d) for d in sorted(out.iterdir()) if d.is_dir()}
        write_figures(out / MANIFEST, info)
    size = sum(p.stat().st_size for p in Path(params.paths.deploy).iterdir())
    report = {"parity": figures, "variants": built["variants"], "bundle_bytes": size, "champion": champion}
    write_json(TIMINGS, {"version": info["version"], "variants": built["timings"]})  # volatile: not in git
    if experiment:
        report["release"] = f"none: inside experiment {experiment!r}"
    else:
        version = lineage.register(params, home, "deploy")
        if params.deploy.promote == "auto" and registry.active(home) != version:
            registry.promote(home, version, "deploy: met the delivery standard and the champion")
        report["release"] = {"model": name, "version": version, "active": registry.active(home) == version}
    write_figures(Path(params.paths.reports) / "deploy.json", report)
    print(f"deployed bundle {info['version']} to {params.paths.deploy}; release: {report['release']}")


if __name__ == "__main__":
    from millrace.entry import stage_main

    stage_main(main, __doc__)
