"""train: fit the selected model family with Lightning, log curves with dvclive, keep the best.

Reads `<paths.label>/{train,val}.parquet`, `<paths.selection>` and the `seed`, `data.features`,
`model.*` and `train.*` params; writes `<paths.train>/` (best.ckpt, model.safetensors,
model.json, preprocess.json) and `reports/train/` (dvclive metrics and per-epoch plots).
Deterministic on CPU: the same params give the same weights. Run: `python -m stages.train`.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)


def run(
    label_dir: Path,
    selection: dict[str, Any],
    params,  # stages.params.Params; only seed, data, model and train are read
    out: Path,
    live_dir: Path,
) -> dict[str, Any]:
    """Train, then save the best epoch's weights to `out`; return a short summary."""
    import lightning as L
    import pandas as pd
    import torch
    from dvclive.lightning import DVCLiveLogger
    from lightning.pytorch.callbacks import EarlyStopping, ModelCheckpoint

    from stages import trained
    from stages.features import feature_columns, fit
    from stages.io import read_json
    from stages.registry import REGISTRY
    from stages.train.datamodule import TabularDataModule
    from stages.train.module import Classifier
    from stages.train.progress import EpochLog

    L.seed_everything(params.seed, workers=True, verbose=False)
    classes = read_json(label_dir / "label_map.json")["classes"]
    train_frame = pd.read_parquet(label_dir / "train.parquet")
    plan = fit(train_frame, feature_columns(train_frame, params.data.target, params.data.features))
    family = REGISTRY[selection["family"]]
    backbone = family.build(plan.width, len(classes), params.model)
    system = Classifier(backbone, len(classes), params.train.lr, params.train.weight_decay)
    checkpoint = ModelCheckpoint(
        dirpath=out,
        filename="best",
        monitor="val/loss",
        mode="min",
        save_top_k=1,
        auto_insert_metric_name=False,
    )
    trainer = L.Trainer(
        accelerator=params.train.accelerator,
        devices=params.train.devices,
        precision=params.train.precision,
        max_epochs=params.train.max_epochs,
        deterministic=True,
        callbacks=[EarlyStopping("val/loss", patience=params.train.patience), checkpoint, EpochLog()],
        logger=DVCLiveLogger(dir=str(live_dir), save_dvc_exp=False, dvcyaml=False),
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
    )
    datamodule = TabularDataModule(label_dir, plan, params.train.batch_size, params.seed)
    trainer.fit(system, datamodule=datamodule)

    best = torch.load(checkpoint.best_model_path, map_location="cpu", weights_only=True)
    system.load_state_dict(best["state_dict"])
    meta = {
        "family": family.name,
        "model": params.model.model_dump(),
        "input_dim": plan.width,
        "classes": classes,
        "target": params.data.target,
        "best_epoch": int(best["epoch"]),
        "best_val_loss": float(checkpoint.best_model_score),
        "epochs_run": trainer.current_epoch,
        "trainable_params": sum(p.numel() for p in backbone.parameters() if p.requires_grad),
    }
    trained.save(out, backbone.cpu(), meta, plan)
    return meta
