"""label: give rows their labels, review them, pick rows to label next, split with a seed, then the gate.

Reads `<paths.clean>/clean.parquet` and `label.*`. Labels come from the target column, from human
annotation files joined on a key (`label.annotations`, Label Studio exports included; they win over
the column) and, for rows still without one, from weak-supervision rules (`label.rules`, combined
by majority or weight); a human label always wins over a rule. For classification, confident
learning flags likely mislabelled rows (`<paths.label>/label_review.csv`) and active learning writes
the most informative unlabelled rows for Label Studio (`to_label.json`, `to_label.csv`,
`label_config.xml`). Writes `<paths.label>/{train,val,test}.parquet` (with a `label` column: class
ids, or the target value for regression), `label_map.json` and `reports/labels.json` (label
sources, per-rule coverage/overlap/conflict, annotator agreement, review and export counts), but
only after the `labels` gate: every row labelled; for classification every class present in every
split and none below `gates.labels.min_class_share`. Splits are stratified (by class, or by target
quintile for regression) and exact duplicate rows never straddle splits. Run: `python -m stages.label`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from sklearn.model_selection import train_test_split

from millrace.config.params import Data, Label, Params, Split, load_params
from millrace.errors import MillraceError
from millrace.files import atomic_dir, write_json, write_parquet
from millrace.inputs.tabular import text_positions
from millrace.labelling import annotations, weak_supervision
from millrace.labelling.row_ids import row_hash_ids
from millrace.precision import write_figures
from millrace.quality.gates import Check, expectation, run_gate

SPLITS = ("train", "val", "test")
MAX_CLASSES = 20  # a numeric target with more distinct values than this is taken as continuous


def task_of(target: pd.Series, declared: str) -> str:
    """The task params declare, or, for `auto`, what the target looks like."""
    values = target.dropna()
    numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
    if declared == "regression" and not numeric:
        raise MillraceError(f"data.task is regression, but data.target {target.name!r} is not numeric ({values.dtype})")
    if declared != "auto":
        return declared
    if numeric and (values.nunique() > MAX_CLASSES or (values % 1 != 0).any()):
        return "regression"
    return "classification"


def label_map(target: pd.Series) -> list[str]:
    """Class names in a stable order (sorted as strings); a class's id is its index."""
    values = target.dropna()
    if values.nunique() > 1000:
        raise MillraceError(
            f"data.target {target.name!r} has {values.nunique()} distinct values: too many classes; "
            "set data.task: regression if it is a quantity"
        )
    return sorted(values.astype("str").unique())


def class_ids(target: pd.Series, classes: list[str]) -> np.ndarray:
    """Each value's class id (its index in `classes`, compared as text); -1 where missing or no class."""
    return text_positions(target.astype("str"), classes)


def _split_groups(groups: pd.DataFrame, split: Split, seed: int) -> dict[str, pd.Index]:
    strata = groups["_stratum"]
    try:
        rest, test = train_test_split(groups.index, test_size=split.test, stratify=strata, random_state=seed)
        val_share = split.val / (split.train + split.val)
        train, val = train_test_split(rest, test_size=val_share, stratify=strata.loc[rest], random_state=seed)
    except ValueError as exc:
        counts = strata.value_counts().to_dict()
        raise MillraceError(f"cannot split stratified ({exc}); distinct rows per stratum: {counts}") from None
    return {"train": train, "val": val, "test": test}


def _strata(label: pd.Series, task: str) -> pd.Series:
    """Classes, or for regression the target's quintiles, so every split sees the whole range."""
    if task == "classification":
        return label
    return pd.qcut(label.astype("float64"), q=5, labels=False, duplicates="drop")


def run(
    frame: pd.DataFrame, target: str, split: Split, seed: int, task: str = "auto"
) -> tuple[dict[str, pd.DataFrame], list[str], str]:
    """Return the three labelled splits, the class names (index = class id; none for regression) and the task."""
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
    frame = frame.assign(_stratum=_strata(frame["label"], task))
    # Identical rows form one group, so a duplicate can never land in two splits.
    group = pd.util.hash_pandas_object(frame.drop(columns=["label", "_stratum"]), index=False)
    strata = frame["_stratum"].set_axis(pd.Index(group.to_numpy(), name="_group"))
    groups = strata[~strata.index.duplicated()].to_frame()  # the stratum alone: a copy of every column is not needed
    chosen = _split_groups(groups, split, seed)
    keys = frame.assign(_group=group.values)
    splits = {}
    for name in SPLITS:
        rows = keys[keys["_group"].isin(chosen[name])].drop(columns=["_group", "_stratum"])
        splits[name] = rows.reset_index(drop=True)
    return splits, classes, task


def class_balance(splits: dict[str, pd.DataFrame], classes: list[str]) -> pd.DataFrame:
    rows = []
    for name, frame in splits.items():
        counts = frame["label"].value_counts()
        for class_id, class_name in enumerate(classes):
            n = int(counts.get(class_id, 0))
            rows.append({"split": name, "class": class_name, "rows": n, "share": n / max(len(frame), 1)})
    return pd.DataFrame(rows)


def leakage(splits: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """Per evaluation split, its rows whose inputs (every column but the label) are also a training row's."""
    inputs = [c for c in splits["train"].columns if c != "label"]
    seen = pd.util.hash_pandas_object(splits["train"][inputs], index=False).to_numpy()
    rows = []
    for name in ("val", "test"):
        hashes = pd.util.hash_pandas_object(splits[name][inputs], index=False)
        rows.append({"split": name, "rows_also_in_train": int(hashes.isin(seen).sum()), "rows": len(hashes)})
    return pd.DataFrame(rows)


def labels_checks(
    splits: dict[str, pd.DataFrame], classes: list[str], min_share: float, task: str = "classification"
) -> list[Check]:
    # The row expectations read only the label: a copy of every column would double the stage's memory.
    labelled = pd.concat([f[["label"]].assign(split=n) for n, f in splits.items()], ignore_index=True)
    every_row = [expectation("expect_column_values_to_not_be_null", column="label")]
    # A model scored on rows it trained on looks better than it is: no evaluation row may repeat a training row.
    no_leak = expectation("expect_column_values_to_be_between", column="rows_also_in_train", max_value=0)
    leaks = Check("train_test_leakage", leakage(splits), [no_leak], ["split"])
    if task == "regression":
        sizes = pd.DataFrame({"split": list(splits), "rows": [len(f) for f in splits.values()]})
        finite = expectation("expect_column_values_to_be_between", column="label", min_value=-1e300, max_value=1e300)
        enough = [expectation("expect_column_values_to_be_between", column="rows", min_value=2)]
        return [Check("rows", labelled, [*every_row, finite]), Check("split_sizes", sizes, enough, ["split"]), leaks]
    every_row.append(
        expectation("expect_column_values_to_be_in_set", column="label", value_set=list(range(len(classes))))
    )
    balance = [
        expectation("expect_column_values_to_be_between", column="rows", min_value=1),
        expectation("expect_column_values_to_be_between", column="share", min_value=min_share),
    ]
    return [
        Check("rows", labelled, every_row),
        Check("class_balance", class_balance(splits, classes), balance, index_columns=["split", "class"]),
        leaks,
    ]


def row_ids(frame: pd.DataFrame, target: str, key: str | None) -> pd.Series:
    """What identifies a row across runs and tools: the declared key, or a hash of its other values."""
    if key is not None:
        if key not in frame.columns:
            raise MillraceError(f"label.key {key!r} is not a column; columns: {list(frame.columns)}")
        return frame[key].astype("str")
    return row_hash_ids(frame.drop(columns=[target]))


def assign_labels(frame: pd.DataFrame, target: str, params: Label, text_column: str | None):
    """The target filled from annotations, then rules; each row's label source; and the report."""
    ids = row_ids(frame, target, params.key)
    known = frame[target].notna()
    source = pd.Series(np.full(len(frame), None, dtype=object), index=frame.index)
    source[known] = "column"  # one shared string (np.where would make a string object per row)
    report: dict[str, Any] = {}
    if not (params.annotations or params.rules):
        report["sources"] = _source_counts(source)
        return frame, source, ids, report
    given = frame[target].astype("object").where(known, None)  # values of any type, and None
    if params.annotations:
        read = pd.concat([annotations.read(spec, i) for i, spec in enumerate(params.annotations)], ignore_index=True)
        winners, ties = annotations.resolve(read)
        human = ids.map(winners)
        numeric = pd.api.types.is_numeric_dtype(frame[target].dropna()) and frame[target].notna().any()
        if numeric:
            human = pd.to_numeric(human, errors="coerce").where(human.notna(), None)
        changed = human.notna() & given.notna() & (human.astype("str") != given.astype("str"))
        report["annotations"] = {
            "rows": len(read),
            "matched": int(human.notna().sum()),
            "unmatched_keys": int((~winners.index.isin(ids)).sum()),
            "overrode_column": int(changed.sum()),
            "annotator_ties": ties,
            "agreement": annotations.agreement(read),
        }
        given = human.where(human.notna(), given)
        source = source.where(human.isna(), "annotation")
    if params.rules:
        votes = weak_supervision.votes(params.rules, frame, text_column)
        combined = weak_supervision.combine(votes, params.rules, params.combine)
        fills = given.isna() & combined.notna()
        report["rules"] = {
            "combine": params.combine,
            "labelled": int(fills.sum()),
            "abstained_or_tied": int((given.isna() & combined.isna()).sum()),
            "per_rule": weak_supervision.analysis(votes, given.where(source != "rule")),
        }
        given = given.where(~fills, combined)
        source = source.where(~fills, "rule")
    report["sources"] = _source_counts(source)
    filled = given.infer_objects()  # numbers stay numbers (regression, numeric classes); the rest is text
    if filled.dtype == object:
        filled = filled.astype("str").where(filled.notna())
    return frame.assign(**{target: filled}), source, ids, report


def _source_counts(source: pd.Series) -> dict[str, int]:
    return {k: int(v) for k, v in source.fillna("unlabelled").value_counts().items()}


def curate(labelled, ids, source, pool, pool_ids, task, params: Params, out: Path) -> dict[str, Any]:
    """Label review and the active-learning export (classification only)."""
    from millrace.evaluation import baselines
    from millrace.inputs import plans
    from millrace.labelling import curation

    review, active = params.label.review, params.label.active_learning
    if task != "classification":
        return {"review": "classification only", "active_learning": "classification only"}
    columns = params.data.features or [c for c in labelled.columns if c not in (params.data.target, "label")]
    # Encodings only (no labels are used), so the unlabelled pool counts too; no copy when there is none.
    plan = plans.fit(pd.concat([labelled, pool]) if len(pool) else labelled, columns, params.data)
    classes = label_map(labelled[params.data.target])
    y = class_ids(labelled[params.data.target], classes)
    x = baselines.inputs(plan, labelled)
    report: dict[str, Any] = {}
    if review.enabled:
        flagged, how = curation.suspects(x, y, classes, plan.kind, review.folds, params.seed, review.fit_rows)
        flagged = flagged.head(review.max_rows)
        positions = flagged.pop("position").to_numpy().astype(int)
        flagged.insert(0, "row_id", ids.iloc[positions].to_numpy())
        flagged.insert(1, "label_source", source.iloc[positions].to_numpy())
        flagged["row"] = _display(labelled.iloc[positions].drop(columns=[params.data.target]), plan).to_numpy()
        flagged.to_csv(out / "label_review.csv", index=False)
        report["review"] = {"method": how, "flagged": len(flagged)}
    if active.batch and len(pool) and len(classes) > 1:
        chosen, scores, probabilities, model_classes = curation.most_informative(
            x, y, baselines.inputs(plan, pool), plan.kind, active.strategy, active.batch, params.seed
        )
        picked = pool.iloc[chosen].drop(columns=[params.data.target]).assign(row_id=pool_ids.iloc[chosen].to_numpy())
        display = _display(picked, plan)
        tasks = curation.label_studio_tasks(picked, display, probabilities, classes, model_classes)
        suggested = [classes[int(model_classes[i])] for i in probabilities.argmax(axis=1)]
        table = picked.assign(suggested=suggested, informativeness=scores.round(4))
        curation.write_tasks(out, tasks, table, classes)
        report["active_learning"] = {"strategy": active.strategy, "pool": len(pool), "exported": len(picked)}
    return report


def _display(rows: pd.DataFrame, plan) -> pd.Series:
    """What a labeller reads: the text itself, or the row's values as `name: value` pairs."""
    if plan.kind == "text":
        return rows[plan.column].astype("str")
    shown = rows.drop(columns=["row_id"], errors="ignore")
    return shown.apply(lambda r: "; ".join(f"{k}: {v}" for k, v in r.items() if not isinstance(v, bytes)), axis=1)


def main() -> None:
    params = load_params()
    target = params.data.target
    frame = pd.read_parquet(Path(params.paths.clean) / "clean.parquet")
    if target not in frame.columns:
        raise MillraceError(f"data.target {target!r} is not a column; columns: {list(frame.columns)}")
    text_column = _text_column(frame, params.data)
    frame, source, ids, report = assign_labels(frame, target, params.label, text_column)
    known = frame[target].notna()
    labelled, pool = (frame, frame.iloc[:0]) if known.all() else (frame[known], frame[~known])
    splits, classes, task = run(labelled, target, params.label.split, params.seed, params.data.task)
    run_gate(
        "labels",
        labels_checks(splits, classes, params.gates.labels.min_class_share, task),
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
    from millrace.inputs.plans import data_kind, declared_text_column

    columns = data.features or [c for c in frame.columns if c != data.target]
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
