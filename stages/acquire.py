"""acquire: bring the declared data source in as one canonical Parquet table, behind the raw gate.

Reads `data.source`: a built-in dataset, a CSV / Parquet / JSON Lines file, a folder of images
(one sub-folder per class) or text (a file with a text column, or a folder of .txt files per
class). Writes `<paths.acquire>/raw.parquet` (images as their encoded bytes) plus `profile.json`
(rows, columns, dtypes, nulls, provenance, files excluded and why), but only after the `raw`
gate (the data contract) has passed. Run: `python -m stages.acquire`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from stages import folders
from stages.errors import MillraceError
from stages.gate import Check, expectation, load_suite, run_gate
from stages.io import atomic_dir, sha256, table_format, write_json, write_parquet
from stages.params import BuiltinSource, Data, FileSource, ImageFolderSource, Params, TextSource, load_params


def load_builtin(name: str) -> pd.DataFrame:
    """A dataset that ships inside an installed package: nothing is downloaded."""
    if name == "penguins":
        import palmerpenguins

        return palmerpenguins.load_penguins()
    if name == "reviews":
        from stages.reviews import messages

        return messages()
    from sklearn import datasets

    if name == "digits":  # 8×8 greyscale images, kept as images (PNG bytes), not 64 loose columns
        import numpy as np

        from stages.images import png_bytes

        bunch = datasets.load_digits()
        pixels = np.round(bunch.images * (255 / 16)).astype(np.uint8)
        return pd.DataFrame({"image": [png_bytes(p) for p in pixels], "target": bunch.target.astype(str)})

    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame.copy()
    if name != "diabetes":  # classification: readable class names instead of bare integers
        frame["target"] = pd.Series(bunch.target_names[bunch.target], dtype="str")
    return frame


def _format(source: FileSource | TextSource) -> str:
    declared = getattr(source, "format", "auto")  # a text source has no format of its own to declare
    if declared != "auto":
        return declared
    fmt = table_format(source.path)
    if fmt is None:
        raise MillraceError(
            f"data.source.path {source.path!r}: cannot tell the format from {Path(source.path).suffix!r}; "
            f"set data.source.format to one of csv, parquet, jsonl"
        )
    return fmt


def load_file(source: FileSource | TextSource) -> pd.DataFrame:
    path = Path(source.path)
    if not path.is_file():
        raise MillraceError(f"data.source.path {source.path!r}: no such file")
    fmt = _format(source)
    try:
        if fmt == "csv":
            return pd.read_csv(path)
        if fmt == "parquet":
            return pd.read_parquet(path)
        return pd.read_json(path, lines=True)
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise MillraceError(f"data.source.path {source.path!r}: cannot read as {fmt}: {exc}") from None


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """String column names and a clean index, so every source yields the same layout."""
    frame = frame.rename(columns=str).reset_index(drop=True)
    if frame.columns.duplicated().any():
        dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise MillraceError(f"the source has duplicate column names: {dupes}")
    return frame


def load_text(source: TextSource, target: str) -> tuple[pd.DataFrame, dict[str, Any]]:
    if Path(source.path).is_dir():
        read = folders.read_texts(source.path, source.text_column, target)
        return read.frame, {"files": read.files, "excluded": read.excluded}
    frame = load_file(source)
    if source.text_column not in frame.columns:
        raise MillraceError(
            f"data.source.text_column {source.text_column!r} is not a column of {source.path!r}; "
            f"columns: {list(frame.columns)}"
        )
    return frame, {}


def run(data: Data) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Load the declared source into the canonical layout; also return what was read and excluded."""
    source = data.source
    read: dict[str, Any] = {}
    if isinstance(source, BuiltinSource):
        frame = load_builtin(source.name)
    elif isinstance(source, ImageFolderSource):
        images = folders.read_images(source.path, "image", data.target)
        frame, read = images.frame, {"files": images.files, "excluded": images.excluded}
    elif isinstance(source, TextSource):
        frame, read = load_text(source, data.target)
    else:
        frame = load_file(source)
    for skipped in read.get("excluded", []):
        print(f"acquire: excluded {skipped['file']}: {skipped['reason']}")
    return canonical(frame), read


def profile(frame: pd.DataFrame, source, read: dict[str, Any] | None = None) -> dict[str, Any]:
    provenance: dict[str, Any] = source.model_dump() | (read or {})
    path = Path(getattr(source, "path", ""))
    if not isinstance(source, BuiltinSource) and path.is_file():
        provenance |= {"bytes": path.stat().st_size, "sha256": sha256(path)}
    return {
        "rows": len(frame),
        "columns": list(frame.columns),
        "dtypes": {c: str(t) for c, t in frame.dtypes.items()},
        "nulls": {c: int(n) for c, n in frame.isna().sum().items()},
        "source": provenance,
    }


def raw_checks(frame: pd.DataFrame, data: Data, suite: list[dict[str, Any]]) -> list[Check]:
    """The data contract: the committed suite (if any) plus what params.yaml requires."""
    required = [data.target, *(data.features or [])]
    generic = [expectation("expect_table_row_count_to_be_between", min_value=1)]
    generic += [expectation("expect_column_to_exist", column=c) for c in required]
    return [Check("table", frame, generic + suite)]


def main() -> None:
    params: Params = load_params()
    frame, read = run(params.data)
    suite = load_suite(params.paths.gx, params.gates.raw.suite) if params.gates.raw.suite else []
    run_gate(
        "raw",
        raw_checks(frame, params.data, suite),
        gx_dir=params.paths.gx,
        reports_dir=params.paths.reports,
    )
    with atomic_dir(params.paths.acquire) as out:
        write_parquet(out / "raw.parquet", frame)
        write_json(out / "profile.json", profile(frame, params.data.source, read))


if __name__ == "__main__":
    from stages.cli import stage_main

    stage_main(main, __doc__)
