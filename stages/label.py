"""label: give rows their labels, review them, pick rows to label next, split with a seed, then the gate.

Reads `<paths.clean>/clean.parquet` and `label.*`. Labels come from the target column, from human annotation
files joined on a key (`label.annotations`, Label Studio exports included; they win over the column) and, for
rows still without one, from weak-supervision rules (`label.rules`, combined by majority or weight); a human
label always wins over a rule. For classification, confident learning flags likely mislabelled rows
(`<paths.label>/label_review.csv`) and active learning writes the most informative unlabelled rows for Label
Studio (`to_label.json`, `to_label.csv`, `label_config.xml`). Writes `<paths.label>/{train,val,test}.parquet`
(with a `label` column: class ids, or the target value for regression), `label_map.json` and
`reports/labels.json` (label sources, per-rule coverage/overlap/conflict, annotator agreement, review and
export counts), but only after the `labels` gate: every row labelled; for classification every class present
in every split and none below `gates.labels.min_class_share` of the training split; no validation or test row
repeating a training row's inputs, exactly or once text is normalised (the pairs are named). A row's split is
a function of a seeded hash of its key (`label.key`, or its normalised inputs): adding rows moves no existing
row, and (near-)duplicates land together. Run: `python -m stages.label`.

A causal language model (`data.task` sft or pretraining) takes millrace/language/steps/label.py instead.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from millrace.config.params import LANGUAGE_TASKS, Data, Split, load_params
from millrace.errors import MillraceError
from millrace.files import atomic_dir, write_json, write_parquet
from millrace.labelling.curation import curate
from millrace.labelling.near_duplicates import across_splits
from millrace.labelling.row_ids import row_hash_ids
from millrace.labelling.sources import assign_labels
from millrace.labelling.splits import split_rows
from millrace.labelling.targets import class_ids, label_map, task_of
from millrace.precision import write_figures
from millrace.quality.gates import Check, expectation, run_gate


def run(
    frame: pd.DataFrame, target: str, split: Split, seed: int, task: str = "auto", key: pd.Series | None = None
) -> tuple[dict[str, pd.DataFrame], list[str], str]:
    """Return the three labelled splits, the class names (index = class id; none for regression) and the task.

    A row's split follows from a seeded hash of its `key` (or of its normalised inputs), so it never moves."""
    if target not in frame.columns:
        raise MillraceError(f"data.target {target!r} is not a column; columns: {list(frame.columns)}")
    task = task_of(frame[target], task)
    if task == "regression":
        classes: list[str] = []
        frame = frame.assign(label=frame[target].astype("float64"))
    else:
        classes = label_map(frame[target])
        ids = class_ids(frame[target], classes)
        frame = frame.assign(label=pd.Series(ids, index=frame.index, dtype="Int64").mask(ids < 0))
    inputs = [c for c in frame.columns if c not in (target, "label")]
    return split_rows(frame, split, seed, key, inputs), classes, task


def class_balance(splits: dict[str, pd.DataFrame], classes: list[str]) -> pd.DataFrame:
    rows = []
    for name, frame in splits.items():
        counts = frame["label"].value_counts()
        for class_id, class_name in enumerate(classes):
            n = int(counts.get(class_id, 0))
            rows.append({"split": name, "class": class_name, "rows": n, "share": n / max(len(frame), 1)})
    return pd.DataFrame(rows)


def leakage(splits: dict[str, pd.DataFrame], target: str, key: str | None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Per evaluation split, how many of its rows repeat a training row's inputs, exactly or near; and the pairs."""
    inputs = [c for c in splits["train"].columns if c not in (target, "label")]
    names = {s: f[key].astype("str") if key else row_hash_ids(f[inputs]) for s, f in splits.items()}
    pairs = across_splits(splits, inputs, names)
    counts = pd.DataFrame(
        {
            "split": ["val", "test"],
            "rows": [len(splits["val"]), len(splits["test"])],
            "rows_also_in_train": [int((pairs["exact"] & (pairs["split"] == s)).sum()) for s in ("val", "test")],
            "near_duplicates_of_train": [int((pairs["split"] == s).sum()) for s in ("val", "test")],
        }
    )
    return counts, pairs.assign(repeats_a_training_row=1)


def class_share_floor(min_share: float | str, classes: list[str]) -> tuple[float, str]:
    """The smallest share of the training split a class may have, and the params key and value that set it."""
    if min_share == "auto":
        floor = 1 / (4 * max(len(classes), 1))
        return floor, f"gates.labels.min_class_share: auto (1 / (4 × {len(classes)} classes) = {floor:.4g})"
    return float(min_share), f"gates.labels.min_class_share: {min_share}"


def labels_checks(
    splits: dict[str, pd.DataFrame],
    classes: list[str],
    min_share: float | str,
    task: str = "classification",
    target: str = "",
    key: str | None = None,
) -> list[Check]:
    # The row expectations read only the label: a copy of every column would double the stage's memory.
    labelled = pd.concat([f[["label"]].assign(split=n) for n, f in splits.items()], ignore_index=True)
    labelled_by = "data.target (and label.annotations, label.rules: rows left without a label)"
    every_row = [expectation("expect_column_values_to_not_be_null", column="label", set_by=labelled_by)]
    keyed_by = f"label.key: {key}" if key else "label.key: null (rows are keyed by their normalised values)"
    # A model scored on rows it trained on looks better than it is: no evaluation row may repeat a training
    # row, even once case, punctuation and spacing are set aside.
    counts, pairs = leakage(splits, target, key)
    no_leak = [
        expectation("expect_column_values_to_be_between", column=c, max_value=0, set_by=keyed_by)
        for c in ("rows_also_in_train", "near_duplicates_of_train")
    ]
    no_pair = expectation(
        "expect_column_values_to_be_between", column="repeats_a_training_row", max_value=0, set_by=keyed_by
    )
    leaks = [
        Check("train_test_leakage", counts, no_leak, ["split"]),
        Check("near_duplicate_pairs", pairs, [no_pair], ["split", "row", "train_row"]),
    ]
    if task == "regression":
        sizes = pd.DataFrame({"split": list(splits), "rows": [len(f) for f in splits.values()]})
        finite = expectation("expect_column_values_to_be_between", column="label", min_value=-1e300, max_value=1e300)
        enough = [expectation("expect_column_values_to_be_between", column="rows", min_value=2, set_by="label.split")]
        return [Check("rows", labelled, [*every_row, finite]), Check("split_sizes", sizes, enough, ["split"]), *leaks]
    every_row.append(
        expectation("expect_column_values_to_be_in_set", column="label", value_set=list(range(len(classes))))
    )
    # Every class in every split (evaluation needs it); the share floor on the training split, where it says how
    # imbalanced the data is (a small evaluation split's shares wander: the split is a hash, not stratified).
    balance = class_balance(splits, classes)
    split_by = "label.split and seed (the split is a hash of each row: a rare class may miss a small split)"
    present = [expectation("expect_column_values_to_be_between", column="rows", min_value=1, set_by=split_by)]
    floor, share_by = class_share_floor(min_share, classes)
    share = [expectation("expect_column_values_to_be_between", column="share", min_value=floor, set_by=share_by)]
    training = balance[balance["split"] == "train"].reset_index(drop=True)
    return [
        Check("rows", labelled, every_row),
        Check("class_balance", balance, present, index_columns=["split", "class"]),
        Check("class_share", training, share, index_columns=["split", "class"]),
        *leaks,
    ]


def main() -> None:
    params = load_params()
    if params.data.task in LANGUAGE_TASKS:  # a causal language model: millrace/language/steps
        from millrace.language.steps import label as language

        language.main(params)
        return
    target = params.data.target
    frame = pd.read_parquet(Path(params.paths.clean) / "clean.parquet")
    if target not in frame.columns:
        raise MillraceError(f"data.target {target!r} is not a column; columns: {list(frame.columns)}")
    text_column = _text_column(frame, params.data)
    frame, source, ids, report = assign_labels(frame, target, params.label, text_column)
    known = frame[target].notna()
    labelled, pool = (frame, frame.iloc[:0]) if known.all() else (frame[known], frame[~known])
    key = params.label.key
    splits, classes, task = run(
        labelled, target, params.label.split, params.seed, params.data.task, labelled[key] if key else None
    )
    run_gate(
        "labels",
        labels_checks(splits, classes, params.gates.labels.min_class_share, task, target, key),
        gx_dir=params.paths.gx,
        reports_dir=params.paths.reports,
    )
    summary: dict[str, Any] = {"target": target, "task": task, "classes": classes}
    summary["rows"] = {name: len(f) for name, f in splits.items()}
    with atomic_dir(params.paths.label) as out:
        for name in list(splits):  # each split is let go once written: curating needs the memory
            write_parquet(
                out / f"{name}.parquet", splits.pop(name).astype({"label": "int64" if classes else "float64"})
            )
        write_json(out / "label_map.json", summary)
        report |= curate(labelled, ids[known], source[known], pool, ids[~known], task, params, out)
    report["unlabelled"] = len(pool)
    write_figures(Path(params.paths.reports) / "labels.json", report)
    _print_rules(report.get("rules"))


def _text_column(frame: pd.DataFrame, data: Data) -> str | None:
    from millrace.inputs.plans import data_kind, declared_text_column, feature_columns

    columns = feature_columns(frame, data)
    kind, column = data_kind(frame, columns, declared_text_column(data))
    return column if kind == "text" else None


def _print_rules(rules: dict[str, Any] | None) -> None:
    if not rules:
        return
    from rich.console import Console
    from rich.table import Table

    table = Table(title=f"labelling rules ({rules['combine']}): {rules['labelled']} rows labelled")
    for heading in ("rule", "coverage", "overlap", "conflict", "accuracy on human labels"):
        table.add_column(heading, justify="left" if heading == "rule" else "right")
    for name, r in rules["per_rule"].items():
        accuracy = "—" if r["accuracy_on_human"] is None else f"{r['accuracy_on_human']:.2f} ({r['human_checked']})"
        table.add_row(name, f"{r['coverage']:.1%}", f"{r['overlap']:.1%}", f"{r['conflict']:.1%}", accuracy)
    Console().print(table)


if __name__ == "__main__":
    from millrace.entry import stage_main

    stage_main(main, __doc__, release_freed_memory=True)
