"""The dvclive logger writes its files where dvclive's own does."""

import pytest


@pytest.mark.parametrize(
    "caller", ["update_train_step_metrics", "update_train_epoch_metrics", "log_eval_end_metrics", "on_fit_end"]
)
def test_the_logger_syncs_where_dvclive_does(caller):
    from dvclive.lightning import _should_sync

    from millrace.training.logger import called_from_sync_point

    namespace = {}
    exec(f"def {caller}(ask):\n    return ask()", namespace)  # a function of that name on the stack
    assert namespace[caller](called_from_sync_point) == namespace[caller](_should_sync)
    assert namespace[caller](called_from_sync_point) == (caller != "on_fit_end")
