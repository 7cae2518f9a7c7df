"""train for a language model: the base loaded, the strategy applied, fitted with Lightning on the label
stage's tokens (early stopping on validation loss, resumable), the best epoch saved (millrace/language/trained.py)."""

from __future__ import annotations

import math
import shutil
import time
from pathlib import Path
from typing import Any

from millrace.config.params import Params
from millrace.language import base, strategies, tokens, trained
from millrace.language.data_module import TokensDataModule
from millrace.language.system import CausalLMSystem
from millrace.models.network import load_checkpoint, parameter_counts


def run(
    params: Params, selection: dict[str, Any], out: Path, live_dir: Path, checkpoints: Path, callbacks: tuple = ()
) -> dict[str, Any]:
    """Fit and save the best epoch to `out`; what model.json records and whether the run resumed (an empty dict on
    a DDP rank other than 0, which writes nothing)."""
    import lightning as L

    from millrace.training.callbacks import GradualUnfreeze
    from millrace.training.fit import fingerprint, trainer
    from millrace.training.logger import Logger
    from millrace.training.resume import resume_point

    label_dir = Path(params.paths.label)
    pretrained = base.resolve(params.model.pretrained)
    tokenizer = base.load_tokenizer(pretrained, params.model.chat_template, chat=params.data.task == "sft")
    tokens.check_fingerprint(label_dir, tokenizer)
    strategy, train = selection["strategy"], params.train
    L.seed_everything(params.seed, verbose=False)
    model = base.load_model(pretrained, four_bit=strategy == "qlora")
    if train.gradient_checkpointing:
        model.gradient_checkpointing_enable()
    lora = params.model.lora
    settings = strategies.LoraSettings(
        lora.r, lora.alpha, lora.dropout, None if lora.target_modules == "auto" else tuple(lora.target_modules)
    )
    model = strategies.apply(
        model,
        strategy,
        lora_settings=settings,
        freeze_layers=params.model.freeze_layers,
        virtual_tokens=params.model.virtual_tokens,
    )
    data = TokensDataModule(label_dir, params.data.text.packing, train.batch_size, params.seed, tokenizer.pad_token_id)
    data.setup()
    steps = math.ceil(math.ceil(len(data.train_set) / train.batch_size) / train.accumulate) * train.max_epochs
    unfreeze = strategies.unfreeze_groups(model) if strategy == "gradual_unfreeze" else None
    system = CausalLMSystem(
        model, train.lr, train.weight_decay, round(train.warmup_share * steps), steps, unfreeze=unfreeze
    )
    extra = [GradualUnfreeze(train.unfreeze_every)] if unfreeze else []
    logger = Logger(dir=str(live_dir), save_dvc_exp=False, dvcyaml=False)
    fitter, checkpoint = trainer(train, checkpoints, logger, [*extra, *callbacks])
    ckpt_path = resume_point(checkpoints, fingerprint(label_dir, selection, params), train.resume)
    started = time.perf_counter()
    fitter.fit(system, datamodule=data, ckpt_path=ckpt_path)
    seconds = time.perf_counter() - started
    if not fitter.is_global_zero:  # rank 0 holds the best checkpoint and saves the model
        return {}
    best = load_checkpoint(checkpoint.best_model_path)
    system.load_state_dict(best["state_dict"])
    made = tokens.manifest(label_dir)
    epochs = fitter.current_epoch
    meta = {
        "family": "causal_lm",
        "task": params.data.task,
        "pretrained": params.model.pretrained,
        "base": pretrained.description,
        "strategy": strategy,
        "tokens": made["tokenizer"],
        "max_length": made["max_length"],
        "best_epoch": int(best["epoch"]),
        "best_val_loss": float(checkpoint.best_model_score),
        "epochs_run": epochs,
    } | parameter_counts(system.model)
    trained.save(out, system.model.cpu(), tokenizer, meta)
    shutil.rmtree(checkpoints, ignore_errors=True)
    tokens_seen = made["splits"]["train"]["tokens"] * max(epochs, 1)
    print(
        f"train: {strategy} on {pretrained.description}: best val loss {meta['best_val_loss']:.4f} at epoch "
        f"{meta['best_epoch']}; {meta['trainable_params']:,} of {meta['total_params']:,} parameters trained; "
        f"about {tokens_seen / max(seconds, 1e-9):,.0f} tokens/s"
    )
    return meta | {"resumed": ckpt_path is not None}
