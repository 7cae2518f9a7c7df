"""label: decide the task, map target values to labels, split with a seed, then the labels gate.

Reads `<paths.clean>/clean.parquet`, `data.target`, `data.task`, `label.split` and `seed`; writes
`<paths.label>/{train,val,test}.parquet` (with a `label` column: class ids for classification,
the target value for regression) and `label_map.json` (task, classes, rows per split), but only
after the `labels` gate: every row labelled; for classification every class present in every
split and none below `gates.labels.min_class_share`. Splits are stratified (by class, or by
target quintile for regression) and exact duplicate rows never straddle splits.
Run: `python -m stages.label`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd
from sklearn.model_selection import train_test_split

from stages.errors import MillraceError
from stages.gate import Check, expectation, run_gate
from stages.io import atomic_dir, write_json, write_parquet
from stages.params import Split, load_params

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
        ids = {name: i for i, name in enumerate(classes)}
        frame = frame.assign(label=frame[target].astype("str").map(ids).astype("Int64"))
    frame = frame.assign(_stratum=_strata(frame["label"], task))
    # Identical rows form one group, so a duplicate can never land in two splits.
    group = pd.util.hash_pandas_object(frame.drop(columns=["label", "_stratum"]), index=False)
    groups = frame.assign(_group=group.values).drop_duplicates("_group").set_index("_group")
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


def labels_checks(
    splits: dict[str, pd.DataFrame], classes: list[str], min_share: float, task: str = "classification"
) -> list[Check]:
    labelled = pd.concat([f.assign(split=n) for n, f in splits.items()], ignore_index=True)
    every_row = [expectation("expect_column_values_to_not_be_null", column="label")]
    if task == "regression":
        sizes = pd.DataFrame({"split": list(splits), "rows": [len(f) for f in splits.values()]})
        finite = expectation("expect_column_values_to_be_between", column="label", min_value=-1e300, max_value=1e300)
        enough = [expectation("expect_column_values_to_be_between", column="rows", min_value=2)]
        return [Check("rows", labelled, [*every_row, finite]), Check("split_sizes", sizes, enough, ["split"])]
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
    ]


def main() -> None:
    params = load_params()
    frame = pd.read_parquet(Path(params.paths.clean) / "clean.parquet")
    splits, classes, task = run(frame, params.data.target, params.label.split, params.seed, params.data.task)
    run_gate(
        "labels",
        labels_checks(splits, classes, params.gates.labels.min_class_share, task),
        gx_dir=params.paths.gx,
        reports_dir=params.paths.reports,
    )
    summary: dict[str, Any] = {"target": params.data.target, "task": task, "classes": classes}
    summary["rows"] = {name: len(f) for name, f in splits.items()}
    with atomic_dir(params.paths.label) as out:
        for name, split_frame in splits.items():
            write_parquet(out / f"{name}.parquet", split_frame.astype({"label": "int64" if classes else "float64"}))
        write_json(out / "label_map.json", summary)


if __name__ == "__main__":
    from stages.cli import stage_main

    stage_main(main, __doc__)
