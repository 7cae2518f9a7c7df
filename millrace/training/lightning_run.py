"""A network family's training run: the Lightning system fitted (resuming an interrupted run where allowed),
the best epoch's weights reloaded from its checkpoint and saved with model.json and the input plan."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any


def run(
    label_dir: Path,
    selection: dict[str, Any],
    params,
    out: Path,
    live_dir: Path | None,
    checkpoints: Path,
    callbacks: tuple,
) -> dict[str, Any]:
    """Fit, save the best epoch to `out`; return what model.json records and whether the run resumed (an empty
    dict on a DDP worker other than rank 0, which writes nothing)."""
    from millrace.models import network
    from millrace.training.callbacks import GradualUnfreeze, StopAfterEpochs
    from millrace.training.fit import build, fingerprint, trainer
    from millrace.training.logger import Logger
    from millrace.training.resume import resume_point

    setup = build(label_dir, selection, params)
    ckpt_path = resume_point(checkpoints, fingerprint(label_dir, selection, params), params.train.resume)
    logger = False if live_dir is None else Logger(dir=str(live_dir), save_dvc_exp=False, dvcyaml=False)
    gradual = setup.meta["model"]["strategy"] == "gradual_unfreeze"
    extra = [GradualUnfreeze(params.train.unfreeze_every)] if gradual else []
    if "stop_after_epochs" in selection:  # a portfolio's winner: no more epochs than its judged fits ran
        extra.append(StopAfterEpochs(int(selection["stop_after_epochs"])))
    fitter, checkpoint = trainer(params.train, checkpoints, logger, [*extra, *callbacks])
    fitter.fit(setup.system, datamodule=setup.datamodule, ckpt_path=ckpt_path)
    if not fitter.is_global_zero:  # a DDP worker: rank 0 holds the best checkpoint and saves the model
        return {}

    best = network.load_checkpoint(checkpoint.best_model_path)
    setup.system.load_state_dict(best["state_dict"])
    backbone = setup.system.backbone
    meta = setup.meta | {
        "best_epoch": int(best["epoch"]),
        "best_val_loss": float(checkpoint.best_model_score),
        "epochs_run": fitter.current_epoch,
    }
    meta |= network.parameter_counts(backbone)
    network.save(out, backbone.cpu(), meta, setup.plan)
    shutil.rmtree(checkpoints, ignore_errors=True)
    return meta | {"resumed": ckpt_path is not None}
