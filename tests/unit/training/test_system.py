"""The Lightning system: schedulers from params change the learning rate."""

import pytest

from tests.helpers.params import parse


@pytest.mark.parametrize("scheduler", ["cosine", "plateau"])
def test_schedulers_from_params_change_the_learning_rate(label_dir, tmp_path, scheduler):
    params = parse(
        {"data": {"target": "y", "features": ["x", "c"]}, "train": {"max_epochs": 6, "scheduler": scheduler}}
    )
    from millrace.training.fit import build, trainer

    setup = build(label_dir, {"family": "tabular_mlp"}, params)
    fitter, _ = trainer(params.train, tmp_path / "checkpoints", logger=False)
    fitter.fit(setup.system, datamodule=setup.datamodule)
    config = fitter.lr_scheduler_configs[0]
    expected = {"cosine": "CosineAnnealingLR", "plateau": "ReduceLROnPlateau"}[scheduler]
    assert type(config.scheduler).__name__ == expected
    if scheduler == "cosine":
        assert fitter.optimizers[0].param_groups[0]["lr"] < params.train.lr
