"""A network's training run: a portfolio winner's epoch cap stops it where its judged fits stopped, on the
learning-rate schedule it would have had without the cap."""

import pandas as pd

from millrace.training.dispatch import fit_selected
from tests.helpers.params import parse


def test_a_capped_run_stops_after_its_epochs_on_the_uncapped_schedule(label_dir, tmp_path):
    params = parse(
        {
            "data": {"target": "y", "features": ["x", "c"]},
            "train": {"max_epochs": 5, "patience": 5, "scheduler": "cosine", "batch_size": 8},
        }
    )
    runs = {}
    for name, cap in [("capped", {"stop_after_epochs": 2}), ("free", {})]:
        out = tmp_path / name / "model"
        out.mkdir(parents=True)
        selection = {"family": "tabular_mlp", "strategy": "full", "size": "small", **cap}
        meta = fit_selected(label_dir, selection, params, out, tmp_path / name / "live", tmp_path / name / "ckpt")
        curve = pd.read_csv(tmp_path / name / "live" / "plots" / "metrics" / "train" / "loss.tsv", sep="\t")
        runs[name] = (meta["epochs_run"], curve["loss"].tolist())
    assert runs["capped"][0] == 2 and runs["free"][0] == 5
    # the same losses epoch by epoch: a cap made by shortening max_epochs would have decayed the rate sooner
    assert runs["capped"][1] == runs["free"][1][: len(runs["capped"][1])] and len(runs["capped"][1]) >= 2
