"""label: target values to class ids, a seeded stratified split, then the labels gate.

Reads `<paths.clean>/clean.parquet`, `data.target`, `label.split` and `seed`; writes
`<paths.label>/{train,val,test}.parquet` (with an integer `label` column) and `label_map.json`,
but only after the `labels` gate: every row labelled, every class present in every split and
no class below `gates.labels.min_class_share`. Exact duplicate rows never straddle splits.
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


def label_map(target: pd.Series) -> list[str]:
    """Class names in a stable order (sorted as strings); a class's id is its index."""
    values = target.dropna()
    if pd.api.types.is_float_dtype(values) and (values % 1 != 0).any():
        raise MillraceError(
            f"data.target {target.name!r} is continuous ({values.nunique()} distinct values); "
            "only classification targets are supported so far"
        )
    return sorted(values.astype("str").unique())


def _split_groups(groups: pd.DataFrame, split: Split, seed: int) -> dict[str, pd.Index]:
    try:
        rest, test = train_test_split(groups.index, test_size=split.test, stratify=groups["label"], random_state=seed)
        val_share = split.val / (split.train + split.val)
        train, val = train_test_split(rest, test_size=val_share, stratify=groups.loc[rest, "label"], random_state=seed)
    except ValueError as exc:
        counts = groups["label"].value_counts().to_dict()
        raise MillraceError(f"cannot split stratified ({exc}); distinct rows per class id: {counts}") from None
    return {"train": train, "val": val, "test": test}


def run(frame: pd.DataFrame, target: str, split: Split, seed: int) -> tuple[dict[str, pd.DataFrame], list[str]]:
    """Return the three labelled splits and the class names (index = class id)."""
    if target not in frame.columns:
        raise MillraceError(f"data.target {target!r} is not a column; columns: {list(frame.columns)}")
    classes = label_map(frame[target])
    ids = {name: i for i, name in enumerate(classes)}
    frame = frame.assign(label=frame[target].astype("str").map(ids).astype("Int64"))
    # Identical rows form one group, so a duplicate can never land in two splits.
    group = pd.util.hash_pandas_object(frame.drop(columns="label"), index=False)
    groups = frame.assign(_group=group.values).drop_duplicates("_group").set_index("_group")
    chosen = _split_groups(groups, split, seed)
    keys = frame.assign(_group=group.values)
    splits = {}
    for name in SPLITS:
        rows = keys[keys["_group"].isin(chosen[name])].drop(columns="_group")
        splits[name] = rows.reset_index(drop=True)
    return splits, classes


def class_balance(splits: dict[str, pd.DataFrame], classes: list[str]) -> pd.DataFrame:
    rows = []
    for name, frame in splits.items():
        counts = frame["label"].value_counts()
        for class_id, class_name in enumerate(classes):
            n = int(counts.get(class_id, 0))
            rows.append({"split": name, "class": class_name, "rows": n, "share": n / max(len(frame), 1)})
    return pd.DataFrame(rows)


def labels_checks(splits: dict[str, pd.DataFrame], classes: list[str], min_share: float) -> list[Check]:
    labelled = pd.concat([f.assign(split=n) for n, f in splits.items()], ignore_index=True)
    every_row = [
        expectation("expect_column_values_to_not_be_null", column="label"),
        expectation("expect_column_values_to_be_in_set", column="label", value_set=list(range(len(classes)))),
    ]
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
    splits, classes = run(frame, params.data.target, params.label.split, params.seed)
    run_gate(
        "labels",
        labels_checks(splits, classes, params.gates.labels.min_class_share),
        gx_dir=params.paths.gx,
        reports_dir=params.paths.reports,
    )
    summary: dict[str, Any] = {"target": params.data.target, "classes": classes}
    summary["rows"] = {name: len(f) for name, f in splits.items()}
    with atomic_dir(params.paths.label) as out:
        for name, split_frame in splits.items():
            write_parquet(out / f"{name}.parquet", split_frame.astype({"label": "int64"}))
        write_json(out / "label_map.json", summary)


if __name__ == "__main__":
    from stages.cli import stage_main

    stage_main(main, __doc__)
