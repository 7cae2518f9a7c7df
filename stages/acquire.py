"""acquire: bring the declared data source in as one canonical Parquet table, behind the raw gate.

Reads `data.source`: a built-in dataset; a table file (CSV, TSV, Parquet, JSON, JSON Lines, Excel),
a glob of them or a .zip/.tar.gz holding them; the same over HTTP(S) (verified by sha256); a SQL
query; a folder (or archive) of images or .txt files, one sub-folder per class; or a table with a
text column. Writes `<paths.acquire>/raw.parquet` (images as their encoded bytes), `profile.json`
(rows, columns, dtypes, nulls; provenance: each file's origin, size and sha256; files excluded and
why) and `quarantine.csv` (records that could not be parsed: file, line, reason, raw text), but
only after the `raw` gate (the data contract) has passed. Run: `python -m stages.acquire`.
"""

from __future__ import annotations

import contextlib
import glob
import tempfile
from collections.abc import Iterator
from fnmatch import fnmatch
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pandas as pd

from millrace.config.params import (
    BuiltinSource,
    Data,
    FileSource,
    ImageFolderSource,
    Params,
    Source,
    SqlSource,
    TextSource,
    UrlSource,
    load_params,
)
from millrace.errors import MillraceError
from millrace.files import atomic_dir, sha256, write_json, write_parquet
from millrace.quality.gates import Check, expectation, load_suite, run_gate
from millrace.sources import archives, folders
from millrace.sources.archives import is_archive
from millrace.sources.download import Fetch, download
from millrace.sources.sql import read_query
from millrace.sources.tables import FORMATS, format_of, read_table

DOWNLOADS = Path(".millrace/downloads")  # pinned downloads, by checksum; outside DVC's outputs
QUARANTINE_COLUMNS = ["file", "line", "reason", "text"]


def load_builtin(name: str) -> pd.DataFrame:
    """A dataset that ships inside an installed package: nothing is downloaded."""
    if name == "penguins":
        import palmerpenguins

        return palmerpenguins.load_penguins()
    if name == "reviews":
        from millrace.sources.builtin_reviews import messages

        return messages()
    from sklearn import datasets

    if name == "digits":  # 8×8 greyscale images, kept as images (PNG bytes), not 64 loose columns
        import numpy as np

        from millrace.inputs.images import png_bytes

        bunch = datasets.load_digits()
        pixels = np.round(bunch.images * (255 / 16)).astype(np.uint8)
        return pd.DataFrame({"image": [png_bytes(p) for p in pixels], "target": bunch.target.astype(str)})

    bunch = getattr(datasets, f"load_{name}")(as_frame=True)
    frame = bunch.frame.copy()
    if name != "diabetes":  # classification: readable class names instead of bare integers
        frame["target"] = pd.Series(bunch.target_names[bunch.target], dtype="str")
    return frame


def canonical(frame: pd.DataFrame) -> pd.DataFrame:
    """String column names and a clean index, so every source yields the same layout."""
    frame = frame.rename(columns=str).reset_index(drop=True)
    if frame.columns.duplicated().any():
        dupes = sorted(set(frame.columns[frame.columns.duplicated()]))
        raise MillraceError(f"the source has duplicate column names: {dupes}")
    return frame


def _where(source: Source) -> str:
    return f"data.source.url {source.url!r}" if isinstance(source, UrlSource) else f"data.source.path {source.path!r}"


def _expand(pattern: str, where: str) -> list[Path]:
    """A path, or a glob (`*`, `?`, `[`) matching one or more files, in name order."""
    if not any(char in pattern for char in "*?["):
        return [Path(pattern)]
    matches = sorted(Path(p) for p in glob.glob(pattern, recursive=True) if Path(p).is_file())
    if not matches:
        raise MillraceError(f"{where}: the pattern matched no files")
    return matches


def _members(files: list[Path], root: Path, options: FileSource | UrlSource | TextSource, where: str) -> list[Path]:
    """The extracted files `data.source.members` selects that are tables (by suffix or declared format)."""

    def selected(path: Path) -> bool:
        name = path.relative_to(root).as_posix()
        return fnmatch(name, options.members) or fnmatch(name, options.members.removeprefix("**/"))

    chosen = [f for f in files if selected(f) and not f.name.startswith(".") and format_of(f, options.format)]
    if not chosen:
        names = [str(f.relative_to(root)) for f in files][:10]
        raise MillraceError(
            f"{where}: no table file in the archive matches members {options.members!r}; it holds {names}"
        )
    return chosen


def _read_tables(
    paths: list[Path], options: FileSource | UrlSource | TextSource, where: str, scratch: Path
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Read every file (archives expanded), check they agree on columns, concatenate; with provenance."""
    frames, files, quarantined = [], [], []
    for path in paths:
        if not path.is_file():
            raise MillraceError(f"{where}: no such file" + (f" ({path})" if str(path) not in where else ""))
        entry = {"file": str(path), "bytes": path.stat().st_size, "sha256": sha256(path)}
        if is_archive(path):
            root = scratch / f"archive{len(files)}"
            extracted = archives.extract(path, root, where=f"{where}: {path.name}")
            members = _members(extracted, root, options, f"{where}: {path.name}")
            tables = [(m, f"{where}: {path.name}!{m.relative_to(root)}", str(m.relative_to(root))) for m in members]
            entry["members"] = [name for _, _, name in tables]
        else:
            tables = [(path, where if len(paths) == 1 else f"{where}: {path}", None)]
        files.append(entry)
        for table_path, table_where, member in tables:
            fmt = format_of(table_path, options.format)
            if fmt is None:
                raise MillraceError(
                    f"{table_where}: cannot tell the format from {table_path.suffix!r}; "
                    f"set data.source.format to one of {', '.join(FORMATS)}"
                )
            read = read_table(table_path, fmt, encoding=options.encoding, sheet=options.sheet, where=table_where)
            if frames and list(read.frame.columns) != list(frames[0][1].columns):
                raise MillraceError(
                    f"{table_where}: columns {list(read.frame.columns)} differ from those of "
                    f"{frames[0][0]}: {list(frames[0][1].columns)}"
                )
            frames.append((table_where, read.frame))
            quarantined += read.quarantined
            if member is None:
                entry |= {"rows": len(read.frame), "encoding": read.encoding, "format": fmt}
    frame = frames[0][1] if len(frames) == 1 else pd.concat([f for _, f in frames], ignore_index=True)
    return frame, {"files": files, "quarantined": quarantined}


def _fetch(source: UrlSource, where: str, scratch: Path) -> tuple[Path, dict[str, Any]]:
    """Download once per pinned checksum (kept under .millrace/downloads); unpinned, every time."""
    name = Path(urlsplit(source.url).path).name or "download"
    fetch = Fetch(
        source.url, source.sha256, source.timeout_seconds, source.retries, source.backoff_seconds, source.max_bytes
    )
    if source.sha256:
        cached = DOWNLOADS / source.sha256.lower() / name
        if cached.is_file() and sha256(cached) == source.sha256.lower():
            return cached, {"url": source.url, "sha256": source.sha256.lower(), "cached": True}
        return cached, download(fetch, cached, where=where)
    print(f"acquire: {where} has no sha256: DVC cannot tell when the data behind it changes")
    return scratch / name, download(fetch, scratch / name, where=where)


@contextlib.contextmanager
def _local_folder(path: str, where: str, scratch: Path) -> Iterator[Path]:
    """A folder source, or an archive of one extracted (a single top folder is looked into)."""
    if not is_archive(path):
        yield Path(path)
        return
    if not Path(path).is_file():
        raise MillraceError(f"{where}: no such file")
    root = scratch / "folder"
    archives.extract(path, root, where=where)
    entries = [p for p in root.iterdir() if not p.name.startswith(".")]
    yield entries[0] if len(entries) == 1 and entries[0].is_dir() and any(entries[0].iterdir()) else root


def run(data: Data) -> tuple[pd.DataFrame, dict[str, Any]]:
    """Load the declared source into the canonical layout; also return what was read, excluded, quarantined."""
    source = data.source
    read: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="millrace-acquire-") as scratch_dir:
        scratch = Path(scratch_dir)
        if isinstance(source, BuiltinSource):
            frame = load_builtin(source.name)
        elif isinstance(source, SqlSource):
            frame, read["query"] = read_query(source.url, source.url_env, source.query, "data.source")
        elif isinstance(source, ImageFolderSource):
            with _local_folder(source.path, _where(source), scratch) as root:
                images = folders.read_images(root, "image", data.target)
            frame, read = images.frame, {"files": images.files, "excluded": images.excluded}
        elif isinstance(source, TextSource) and (Path(source.path).is_dir() or is_archive(source.path)):
            with _local_folder(source.path, _where(source), scratch) as root:
                texts = folders.read_texts(root, source.text_column, data.target, source.encoding)
            frame, read = texts.frame, {"files": texts.files, "excluded": texts.excluded}
        elif isinstance(source, UrlSource):
            local, read["download"] = _fetch(source, _where(source), scratch)
            frame, tables = _read_tables([local], source, _where(source), scratch)
            read |= tables
        else:
            frame, tables = _read_tables(_expand(source.path, _where(source)), source, _where(source), scratch)
            read |= tables
    if isinstance(source, TextSource) and source.text_column not in frame.columns:
        raise MillraceError(
            f"data.source.text_column {source.text_column!r} is not a column of {source.path!r}; "
            f"columns: {list(frame.columns)}"
        )
    for skipped in read.get("excluded", []):
        print(f"acquire: excluded {skipped['file']}: {skipped['reason']}")
    for bad in read.get("quarantined", []):
        print(f"acquire: quarantined {bad['file']} line {bad['line']}: {bad['reason']}")
    return canonical(frame), read


def profile(frame: pd.DataFrame, source: Source, read: dict[str, Any] | None = None) -> dict[str, Any]:
    read = dict(read or {})
    quarantined = len(read.pop("quarantined", []))
    return {
        "rows": len(frame),
        "rows_in": len(frame) + quarantined,
        "rows_quarantined": quarantined,
        "columns": list(frame.columns),
        "dtypes": {c: str(t) for c, t in frame.dtypes.items()},
        "nulls": {c: int(n) for c, n in frame.isna().sum().items()},
        "source": source.model_dump() | read,
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
        quarantined = pd.DataFrame(read.get("quarantined", []), columns=QUARANTINE_COLUMNS)
        quarantined.to_csv(out / "quarantine.csv", index=False)
        write_json(out / "profile.json", profile(frame, params.data.source, read))


if __name__ == "__main__":
    from millrace.entry import stage_main

    stage_main(main, __doc__)
