"""A flow run's `-S` overrides: DVC's syntax, checked against the schema, taken back after a failure."""

from __future__ import annotations

from pathlib import Path

import pytest

from flows.overrides import RECORD, apply_overrides, overridden, restore_after_killed_run
from millrace.config.params import ParamsError

DATA = "data: {source: {kind: builtin, name: penguins}, target: species}\n"
ORIGINAL = DATA + "train:\n  lr: 0.01\n"


def test_overrides_use_dvc_exp_run_s_syntax_and_are_checked_against_the_schema(tmp_path):
    (tmp_path / "params.yaml").write_text(DATA + "train:\n  lr: 0.01   # step size\n")
    apply_overrides(tmp_path, ["train.lr=0.003", "+train.max_epochs=5"])  # `+` adds a key, as with -S
    assert parse_params_file(tmp_path)["train"] == {"lr": 0.003, "max_epochs": 5}
    assert "# step size" in (tmp_path / "params.yaml").read_text()  # comments kept
    with pytest.raises(ParamsError, match=r"overrides train.epochs=3: Could not override 'train.epochs'"):
        apply_overrides(tmp_path, ["train.epochs=3"])
    with pytest.raises(ParamsError, match=r"train.lrr: unknown key"):
        apply_overrides(tmp_path, ["+train.lrr=0.1"])


def test_overrides_are_taken_back_by_a_failed_run_and_by_the_run_after_a_killed_one(tmp_path):
    params = tmp_path / "params.yaml"
    params.write_text(ORIGINAL)
    with pytest.raises(RuntimeError), overridden(tmp_path, ["train.lr=0.5"]):
        assert "lr: 0.5" in params.read_text()
        raise RuntimeError("a stage failed")
    assert params.read_text() == ORIGINAL and not (tmp_path / RECORD).exists()
    with overridden(tmp_path, ["train.lr=0.5"]):
        pass
    assert "lr: 0.5" in params.read_text() and not (tmp_path / RECORD).exists()  # kept, as dvc exp run does

    never_left = []  # held, so that no cleanup runs when the generator would be collected

    def killed_during_run() -> None:  # what a run killed outright leaves: its overrides and its record
        params.write_text(ORIGINAL)
        never_left.append(overridden(tmp_path, ["train.lr=0.5"]))
        never_left[-1].__enter__()  # and never exited: kill -9 runs no cleanup

    killed_during_run()
    assert restore_after_killed_run(tmp_path) == (
        "params.yaml put back as it was before a killed flow run applied its overrides"
    )
    assert params.read_text() == ORIGINAL and not (tmp_path / RECORD).exists()
    assert restore_after_killed_run(tmp_path) is None
    killed_during_run()
    params.write_text(params.read_text() + "# the user's own edit\n")
    assert "edited since: left as it is" in restore_after_killed_run(tmp_path)
    assert params.read_text().endswith("# the user's own edit\n") and not (tmp_path / RECORD).exists()


def parse_params_file(root: Path) -> dict:
    import yaml

    return yaml.safe_load((root / "params.yaml").read_text())
