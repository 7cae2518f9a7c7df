"""The README's bring-your-own-data checklist, followed on a table as users have them, works on the first run.

The table is made here (synthetic support tickets: evidence that the checklist works, not of model quality):
an id column, a free-text column that carries the label, a numeric and a categorical column with missing
values, a string target, rows without a target, written as a `;`-separated CSV with decimal commas.
"""

import json

import httpx
import numpy as np
import pandas as pd
import pytest

from tests.e2e.test_serve import start
from tests.helpers.harness import commit_all, copy_project, sh

pytestmark = pytest.mark.slow

# What the README's checklist has a user edit: the source and target, the slices (the gate suites follow the
# data: this table has none of its own, so the gates run the generic checks).
CHECKLIST = """
data:
  source: {kind: file, path: data/inputs/tickets.csv}
  target: team
  features: null
evaluate:
  slices: [channel]
"""


def tickets(n: int = 600) -> pd.DataFrame:
    rng = np.random.default_rng(7)
    words = {
        "billing": ["invoice", "refund", "charged twice", "payment failed"],
        "delivery": ["parcel", "courier", "tracking number", "arrived late"],
        "quality": ["stopped working", "cracked screen", "battery died", "rattling noise"],
    }
    filler = ["hello", "please help", "since monday", "my order", "again", "thanks", "urgent", "as soon as possible"]
    teams = rng.choice(sorted(words), n)
    notes = [" ".join([*rng.choice(filler, 2), rng.choice(words[t]), *rng.choice(filler, 2)]) for t in teams]
    frame = pd.DataFrame(
        {
            "ticket_id": [f"T-{i:05d}" for i in range(n)],
            "notes": notes,
            "amount": rng.gamma(2.0, 40.0, n).round(2),
            "channel": rng.choice(["web", "phone", "mail"], n),
            "team": teams.astype(object),
        }
    )
    frame.loc[::13, "amount"] = np.nan
    frame.loc[::17, "channel"] = None
    frame.loc[::25, "team"] = None  # not labelled yet
    return frame


def test_the_checklist_works_on_a_messy_table_on_the_first_run(tmp_path):
    repo = copy_project(tmp_path / "repo")
    table = tickets()
    table.to_csv(repo / "data/inputs/tickets.csv", sep=";", decimal=",", index=False)
    (repo / "mine.yaml").write_text(CHECKLIST)
    commit_all(repo, "my tickets")
    sh(repo, "millrace", "preset", "mine.yaml")
    commit_all(repo, "params for my tickets")
    output = sh(repo, "dvc", "repro").stdout  # the first run: it must pass
    assert "delimiter ';', decimal mark ','" in output and "ticket_id (identifier" in output

    manifest = json.loads((repo / "models/deploy/manifest.json").read_text())
    assert {f["name"]: f["role"] for f in manifest["signature"]} == {
        "notes": "text",
        "amount": "numeric",
        "channel": "categorical",
    }
    labels = json.loads((repo / "reports/labels.json").read_text())
    assert labels["unlabelled"] == int(table["team"].isna().sum())
    metrics = json.loads((repo / "reports/metrics.json").read_text())
    assert metrics["standard_met"] is True and metrics["test"]["accuracy"] >= 0.9

    process, url = start(repo)
    try:
        record = {"ticket_id": "T-99999", "notes": "my parcel never arrived, the courier lost it", "amount": None}
        answer = httpx.post(f"{url}/predict", json={"records": [record | {"channel": "fax"}]}, timeout=30)
    finally:
        process.terminate()
        process.wait(timeout=10)
    assert answer.status_code == 200, answer.text
    assert answer.json()["predictions"][0]["class"] == "delivery"
