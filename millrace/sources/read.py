"""Read the declared data source into one frame, with what was read: files, checksums, exclusions, quarantine.

One function per kind of source lives in this package (tables, archives, downloads, SQL, class folders, the
built-in datasets); `read_source` dispatches on `data.source` and brings every kind to the same layout:
string column names, a clean index, no duplicate names. URLs pinned by sha256 are downloaded once into
`.millrace/downloads`; a scratch folder holds what archives and unpinned downloads unpack.
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
    Source,
    SqlSource,
    TextSource,
    UrlSource,
)
from millrace.errors import MillraceError
from millrace.files import sha256
from millrace.sources import archives, folders
from millrace.sources.archives import is_archive
from millrace.sources.builtin import load_builtin
from millrace.sources.download import Fetch, download
from millrace.sources.sql import read_query
from millrace.sources.tables import FORMATS, Dialect, format_of, read_table

DOWNLOADS = Path(".millrace/downloads")  # pinned downloads, by checksum; outside DVC's outputs


def read_source(data: Data) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The declared source in the canonical layout, and what was read, excluded and quarantined."""
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
                if data.task == "pretraining":  # a corpus: every .txt file a document, no class folders
                    texts = folders.read_corpus(root, source.text_column, source.encoding)
                else:
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
    return canonical(frame), read


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
    dialect = Dialect(
        options.delimiter, options.decimal, options.thousands, options.quotechar, options.header, options.comment
    )
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
            read = read_table(
                table_path, fmt, encoding=options.encoding, sheet=options.sheet, where=table_where, dialect=dialect
            )
            if frames and list(read.frame.columns) != list(frames[0][1].columns):
                raise MillraceError(
                    f"{table_where}: columns {list(read.frame.columns)} differ from those of "
                    f"{frames[0][0]}: {list(frames[0][1].columns)}"
                )
            frames.append((table_where, read.frame))
            quarantined += read.quarantined
            if member is None:
                entry |= {"rows": len(read.frame), "encoding": read.encoding, "format": fmt}
                entry |= {"dialect": read.dialect} if read.dialect else {}
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
