"""train: fit the selected model family with Lightning, log curves with dvclive, keep the best.

Reads `<paths.label>/{train,val}.parquet`, `<paths.selection>` and the `seed`, `data.features`,
`model.*` and `train.*` params; writes `<paths.train>/` (best.ckpt, model.safetensors,
model.json, preprocess.json) and `reports/train/` (dvclive metrics and per-epoch plots).
Deterministic on CPU: the same params give the same weights. Run: `python -m stages.train`.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Setup:
    """Everything a fit needs, built from the labelled splits, the selection and params."""

    system: Any  # stages.train.module.Classifier
    datamodule: Any  # stages.train.datamodule.TabularDataModule
    family: Any  # stages.registry.ModelFamily
    plan: Any  # stages.features.FeaturePlan
    classes: list[str]


def build(label_dir: Path, selection: dict[str, Any], params) -> Setup:
    """Seed everything, fit the feature plan on the training split, build backbone and system."""
    import lightning as L
    import pandas as pd

    from stages.features import feature_columns, fit
    from stages.io import read_json
    from stages.registry import REGISTRY
    from stages.train.datamodule import TabularDataModule
    from stages.train.module import Classifier

    L.seed_everything(params.seed, workers=True, verbose=False)
    classes = read_json(label_dir / "label_map.json")["classes"]
    train_frame = pd.read_parquet(label_dir / "train.parquet")
    plan = fit(train_frame, feature_columns(train_frame, params.data.target, params.data.features))
    family = REGISTRY[selection["family"]]
    backbone = family.build(plan.width, len(classes), params.model)
    system = Classifier(backbone, len(classes), params.train.lr, params.train.weight_decay)
    datamodule = TabularDataModule(label_dir, plan, params.train.batch_size, params.seed)
    return Setup(system, datamodule, family, plan, classes)


def trainer(train, out: Path, logger, callbacks=()):
    """The Trainer every run uses: params passed to Lightning as is, early stopping, best checkpoint."""
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from stages.train.progress import EpochLog

    # Deterministic cuBLAS needs a fixed workspace; without it a CUDA run stops with an error.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # Lightning's start-up banner (accelerators found, a sales tip) and a pytree deprecation in
    # Lightning itself are noise in `dvc repro` output; warnings still show.
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    checkpoint = ModelCheckpoint(
        dirpath=out, filename="best", monitor="val/loss", mode="min", save_top_k=1, auto_insert_metric_name=False
    )
    return L.Trainer(
        accelerator=train.accelerator,
        devices=train.devices,
        precision=train.precision,
        max_epochs=train.max_epochs,
        deterministic=True,
        callbacks=[EarlyStopping("val/loss", patience=train.patience), checkpoint, EpochLog(), *callbacks],
        logger=logger,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
    ), checkpoint


def run(label_dir: Path, selection: dict[str, Any], params, out: Path, live_dir: Path) -> dict[str, Any]:
    """Train, then save the best epoch's weights to `out`; return a short summary.

    `params` is the whole stages.params.Params; only seed, data, model and train are read.
    """
    from dvclive.lightning import DVCLiveLogger

    from stages import trained

    setup = build(label_dir, selection, params)
    logger = DVCLiveLogger(dir=str(live_dir), save_dvc_exp=False, dvcyaml=False)
    fitter, checkpoint = trainer(params.train, out, logger)
    fitter.fit(setup.system, datamodule=setup.datamodule)

    best = trained.load_checkpoint(checkpoint.best_model_path)
    setup.system.load_state_dict(best["state_dict"])
    backbone = setup.system.backbone
    meta = {
        "family": setup.family.name,
        "model": params.model.model_dump(),
        "input_dim": setup.plan.width,
        "classes": setup.classes,
        "target": params.data.target,
        "best_epoch": int(best["epoch"]),
        "best_val_loss": float(checkpoint.best_model_score),
        "epochs_run": fitter.current_epoch,
        "trainable_params": sum(p.numel() for p in backbone.parameters() if p.requires_grad),
    }
    trained.save(out, backbone.cpu(), meta, setup.plan)
    return meta
