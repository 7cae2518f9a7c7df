"""Building a training run: the seeded input plan, backbone and Lightning system, and the Trainer that fits it.

`build` fits the input plan on the training split and builds the selected family's backbone inside a
Lightning system; `trainer` is the Trainer every run uses (params passed to Lightning as is, early
stopping on `val/loss`, best and last checkpoints); `fingerprint` says which interrupted run may be resumed.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any


@dataclass
class Setup:
    """Everything a fit needs, built from the labelled splits, the selection and params."""

    system: Any  # millrace.training.system.System
    datamodule: Any  # millrace.training.datamodule.SplitsDataModule
    family: Any  # millrace.models.catalogue.ModelFamily
    plan: Any  # millrace.inputs.plans.Plan
    meta: dict[str, Any]  # what model.json records


def model_spec(selection: dict[str, Any], model) -> dict[str, Any]:
    """What the family's builder gets: the chosen strategy and size, that size's options, model params."""
    from millrace.models.catalogue import FAMILIES

    family = FAMILIES[selection["family"]]
    size = selection.get("size") or next(iter(family.sizes))
    strategy = selection.get("strategy") or "full"
    return {
        "strategy": strategy,
        "size": size,
        **family.sizes.get(size, {}),
        **selection.get("options", {}),  # pinned builder options (benchmarks), over the size's
        "dropout": model.dropout,
        "lora": model.lora.model_dump(),
    }


def teacher_logits(teacher_dir: str, label_dir: Path, classes: list[str]):
    """The teacher's logits on the training split, for `model.distill`."""
    import pandas as pd
    import torch

    from millrace.errors import MillraceError
    from millrace.models import engines, trained_model

    teacher = trained_model.load(teacher_dir)
    if teacher.engine is not engines.NETWORK:
        raise MillraceError(
            f"model.distill.teacher {teacher_dir!r} is a {teacher.meta['family']} model: distillation learns from a "
            "network's logits; name a network's train folder"
        )
    if teacher.task != "classification" or teacher.classes != classes:
        raise MillraceError(
            f"model.distill.teacher {teacher_dir!r} predicts {teacher.meta.get('classes')}, "
            f"but this data's classes are {classes}; distil from a teacher trained on the same labels"
        )
    frame = pd.read_parquet(label_dir / "train.parquet")
    encoded = teacher.plan.encode(frame)
    with torch.no_grad():
        return teacher.backbone(*(torch.from_numpy(encoded[n]) for n in teacher.plan.input_names)).float()


def build(label_dir: Path, selection: dict[str, Any], params) -> Setup:
    """Seed everything, fit the input plan on the training split, build backbone and system."""
    import lightning as L
    import pandas as pd

    from millrace.errors import MillraceError
    from millrace.files import read_json
    from millrace.inputs import plans
    from millrace.models.catalogue import FAMILIES
    from millrace.models.network import outputs, parameter_counts
    from millrace.training.augment import from_params
    from millrace.training.datamodule import SplitsDataModule
    from millrace.training.system import Objective, System

    L.seed_everything(params.seed, workers=True, verbose=False)
    labels = read_json(label_dir / "label_map.json")
    task, classes = labels.get("task", "classification"), labels["classes"]
    train_frame = pd.read_parquet(label_dir / "train.parquet")
    plan = plans.fit(train_frame, params)
    family = FAMILIES[selection["family"]]
    spec = model_spec(selection, params.model)
    meta: dict[str, Any] = {"family": family.name, "task": task, "model": spec, "classes": classes}
    meta["target"] = params.data.target
    scale = None
    if task == "regression":
        values = train_frame["label"].astype("float64")
        scale = {"mean": float(values.mean()), "std": float(values.std(ddof=0)) or 1.0}
        meta["target_scale"] = scale
    backbone = family.build(plan, outputs(meta), spec)
    meta |= parameter_counts(backbone)
    distill = params.model.distill
    logits = None
    if distill is not None:
        if task != "classification":
            raise MillraceError("model.distill works for classification only")
        logits = teacher_logits(distill.teacher, label_dir, classes)
        meta["distilled_from"] = distill.model_dump()
    objective = Objective(
        task=task,
        outputs=outputs(meta),
        inputs=len(plan.input_names),
        target_std=scale["std"] if scale else 1.0,
        distill_temperature=distill.temperature if distill else None,
        distill_alpha=distill.alpha if distill else 0.0,
    )
    augment = from_params(params.train.augment) if plan.kind == "image" else None
    train = params.train
    system = System(
        backbone,
        objective,
        train.lr,
        train.weight_decay,
        train.scheduler,
        params.seed,
        train.pretrained_lr_scale,
        augment,
    )
    datamodule = SplitsDataModule(label_dir, plan, params.train.batch_size, params.seed, scale, logits)
    return Setup(system, datamodule, family, plan, meta)


def trainer(train, checkpoints: Path, logger, callbacks=()):
    """The Trainer every run uses: params passed to Lightning as is, early stopping, best and last checkpoints."""
    import lightning as L
    from lightning.pytorch.callbacks import EarlyStopping

    from millrace.training.resume import KeepPreviousCheckpoint

    # Deterministic cuBLAS needs a fixed workspace; without it a CUDA run stops with an error.
    os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    # Lightning's start-up banner (accelerators found, a sales tip) and a pytree deprecation in
    # Lightning itself are noise in `dvc repro` output; warnings still show.
    logging.getLogger("lightning.pytorch.utilities.rank_zero").setLevel(logging.WARNING)
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    # A frozen pretrained encoder is kept in eval mode on purpose (no dropout on fixed features).
    warnings.filterwarnings("ignore", message=".*module\\(s\\) in eval mode.*")
    # The checkpoint folder is ours: emptied for a fresh run, kept on purpose to resume one.
    warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")
    checkpoint = KeepPreviousCheckpoint(
        dirpath=checkpoints,
        filename="best",
        monitor="val/loss",
        mode="min",
        save_top_k=1,
        save_last=True,
        auto_insert_metric_name=False,
        enable_version_counter=False,
    )
    return L.Trainer(
        accelerator=train.accelerator,
        devices=train.devices,
        num_nodes=train.num_nodes,
        strategy=train.strategy,
        use_distributed_sampler=False,  # the datamodule shards the training split itself (EpochShuffle)
        precision=train.precision,
        max_epochs=train.max_epochs,
        accumulate_grad_batches=train.accumulate,
        deterministic=True,
        callbacks=[EarlyStopping("val/loss", patience=train.patience), checkpoint, *callbacks],
        logger=logger,
        enable_progress_bar=False,
        enable_model_summary=False,
        log_every_n_steps=1,
    ), checkpoint


def fingerprint(label_dir: Path, selection: dict[str, Any], params) -> str:
    """What a resumable run must share with the interrupted one: data, selection and training params."""
    from millrace.config.params import TRAINING_SECTIONS
    from millrace.files import folder_sha256

    digest = hashlib.sha256(folder_sha256(label_dir).encode())
    settings = params.model_dump(mode="json", include=TRAINING_SECTIONS)
    digest.update(json.dumps([selection, settings], sort_keys=True).encode())
    return digest.hexdigest()


RESUME_DIR = Path(".millrace/resume/train")  # the train stage's checkpoints while a run is unfinished


def ddp_worker() -> bool:
    """This process is a DDP rank other than 0, started by Lightning's launcher (or torchrun, SLURM)."""
    ranks = ("RANK", "LOCAL_RANK", "NODE_RANK", "SLURM_PROCID")
    return any(int(os.environ.get(name) or 0) != 0 for name in ranks)
