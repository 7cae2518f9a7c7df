"""An ensemble's training run: each member fitted as its own train folder (`members/<i>/`) on the same splits,
then the weights `select` fitted saved beside them with the members' shared input plan and model.json.

The first member (the highest weight) logs its curves to `reports/train/`; the others' curves are not kept."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from millrace.errors import MillraceError


def run(label_dir: Path, selection: dict[str, Any], params, out: Path, live_dir: Path, fit: Callable) -> dict[str, Any]:
    """Fit every member with `fit` (millrace.training.dispatch.fit_selected), save the ensemble to `out`; return
    what model.json records."""
    from millrace.files import read_json, sha256, write_json
    from millrace.inputs import plans
    from millrace.models import ensemble, trained_model
    from millrace.models.trained_model import META

    labels = read_json(label_dir / "label_map.json")
    members, weights, described = selection["members"], [float(m["weight"]) for m in selection["members"]], []
    with tempfile.TemporaryDirectory(prefix="millrace-ensemble-") as scratch:
        for i, member in enumerate(members):
            folder = out / ensemble.MEMBERS / str(i)
            folder.mkdir(parents=True)
            logs = live_dir if i == 0 else Path(scratch) / f"live{i}"
            chosen = {k: v for k, v in member.items() if k != "weight"}
            meta = fit(label_dir, chosen, params, folder, logs, Path(scratch) / f"checkpoints{i}")
            saved = trained_model.weights_file(folder, meta)
            described.append(
                {"family": meta["family"], "selection": chosen, "file": saved.name, "sha256": sha256(saved)}
            )
        plan_files = {(out / ensemble.MEMBERS / str(i) / plans.PREPROCESS).read_bytes() for i in range(len(members))}
        if len(plan_files) != 1:
            raise MillraceError("the ensemble's members fitted different input plans; they must share one")
        shutil.copy(out / ensemble.MEMBERS / "0" / plans.PREPROCESS, out / plans.PREPROCESS)  # tables: one file
    ensemble.save_weights(out, weights, described)
    task, classes = labels.get("task", "classification"), labels["classes"]
    meta = {
        "family": "ensemble",
        "engine": "ensemble",
        "task": task,
        "model": {"strategy": "ensemble", "members": [d["family"] for d in described], "weights": weights},
        "classes": classes,
        "target": params.data.target,
        "nodes": sum(
            trained_model.size_of(trained_model.load(out / ensemble.MEMBERS / str(i))) for i in range(len(members))
        ),
    }
    write_json(out / META, meta)
    return meta
