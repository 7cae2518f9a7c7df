"""The weak-supervision preset with the real `dvc repro`: rules and annotators label the tickets, the
most informative unlabelled ones go out as a Label Studio import, and the labels a person returns
win on the next run."""

import json

import pandas as pd
import pytest

from millrace.sources.builtin_reviews import messages
from tests.helpers.harness import copy_project, set_param, sh, stages_run

pytestmark = pytest.mark.slow


def test_rules_and_annotators_label_then_returned_labels_win(tmp_path):
    repo = copy_project(tmp_path / "repo")
    sh(repo, "millrace", "preset", "examples/weak_supervision.yaml")
    first = sh(repo, "dvc", "repro", "label").stdout
    assert "labelling rules (majority)" in first
    report = json.loads((repo / "reports/labels.json").read_text())
    assert sum(report["sources"].values()) == 800 and report["sources"]["column"] == 40
    assert all(rule["coverage"] > 0.15 for rule in report["rules"]["per_rule"].values())
    assert 0.5 < report["annotations"]["agreement"]["pairs"]["ana vs bo"]["kappa"] < 1
    assert report["active_learning"] == {"strategy": "margin", "pool": report["unlabelled"], "exported": 50}
    review = pd.read_csv(repo / "data/label/label_review.csv")
    assert len(review) == report["review"]["flagged"]
    assert set(review["label_source"]) <= {"column", "annotation", "rule"}

    # A person labels the exported tickets in Label Studio (config included) and exports them as JSON.
    tasks = json.loads((repo / "data/label/to_label.json").read_text())
    assert '<Choices name="label"' in (repo / "data/label/label_config.xml").read_text()
    truth = dict(zip([f"t{i:04d}" for i in range(800)], messages()["topic"], strict=True))
    exported = [task["data"]["row_id"] for task in tasks]

    def annotated(task: dict) -> dict:
        choice = {"from_name": "label", "value": {"choices": [truth[task["data"]["id"]]]}}
        return {"data": task["data"], "annotations": [{"completed_by": 1, "result": [choice]}]}

    export = [annotated(task) for task in tasks]
    (repo / "examples/weak_supervision/round1.json").write_text(json.dumps(export))
    set_param(
        repo,
        r"^(    - \{path: examples/weak_supervision/annotations.csv.*)$",
        r"\1\n    - {path: examples/weak_supervision/round1.json}",
    )
    second = sh(repo, "dvc", "repro", "label").stdout
    assert "label" in stages_run(second)
    after = json.loads((repo / "reports/labels.json").read_text())
    gained = after["sources"]["annotation"] - report["sources"]["annotation"]
    assert gained >= 45 and after["unlabelled"] == report["unlabelled"] - gained

    classes = json.loads((repo / "data/label/label_map.json").read_text())["classes"]
    splits = pd.concat([pd.read_parquet(repo / f"data/label/{s}.parquet") for s in ("train", "val", "test")])
    labelled = dict(zip(splits["id"], (classes[i] for i in splits["label"]), strict=True))
    returned = [i for i in exported if i in labelled]
    assert len(returned) == gained and all(labelled[i] == truth[i] for i in returned)
    again = {task["data"]["row_id"] for task in json.loads((repo / "data/label/to_label.json").read_text())}
    assert not again & set(exported)  # the next batch asks about other tickets
