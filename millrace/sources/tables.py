"""Read one table file (CSV, TSV, Parquet, JSON, JSON Lines, Excel) into a frame, losing no row silently.

Text encodings are declared or detected, never guessed: `auto` honours a byte-order mark and
otherwise requires valid UTF-8; a file that is not names the offending byte and the encoding
charset-normalizer thinks it is, so the user can declare it. A CSV/TSV record with the wrong
number of fields, or a JSON Lines line that does not parse, is quarantined (file, line, reason,
raw text) instead of being dropped or padded, so `rows_in == rows_kept + rows_quarantined`.
"""

from __future__ import annotations

import codecs
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from millrace.errors import MillraceError

FORMATS = ("csv", "tsv", "parquet", "json", "jsonl", "excel")
SUFFIXES = {
    ".csv": "csv",
    ".tsv": "tsv",
    ".tab": "tsv",
    ".parquet": "parquet",
    ".pq": "parquet",
    ".json": "json",
    ".jsonl": "jsonl",
    ".ndjson": "jsonl",
    ".xlsx": "excel",
}
TEXT_FORMATS = frozenset({"csv", "tsv", "json", "jsonl"})
QUARANTINE_TEXT_CHARS = 1000  # of a bad record's raw text, kept for inspection
_BOMS = ((codecs.BOM_UTF8, "utf-8"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


@dataclass
class TableRead:
    frame: pd.DataFrame
    encoding: str | None = None
    quarantined: list[dict[str, Any]] = field(default_factory=list)  # {"file", "line", "reason", "text"}


def format_of(path: Path | str, declared: str = "auto") -> str | None:
    """The declared format, or the one the suffix names; None when neither says."""
    return declared if declared != "auto" else SUFFIXES.get(Path(path).suffix.lower())


def encoding_of(path: Path, declared: str, where: str) -> str:
    """The declared encoding (checked to exist), or for `auto` a BOM's, or UTF-8 once verified."""
    if declared != "auto":
        return codecs.lookup(declared).name  # a known codec: params.yaml's validation checked it
    with path.open("rb") as handle:
        head = handle.read(4)
        for bom, name in _BOMS:
            if head.startswith(bom):
                return name
        handle.seek(0)
        decoder, offset = codecs.getincrementaldecoder("utf-8")(), 0
        for block in iter(lambda: handle.read(1 << 20), b""):
            try:
                decoder.decode(block)
            except UnicodeDecodeError as exc:
                _not_utf8(path, where, offset + exc.start, block[exc.start : exc.start + 1])
            offset += len(block)
        try:
            decoder.decode(b"", final=True)
        except UnicodeDecodeError:
            _not_utf8(path, where, offset, b"")
    return "utf-8"


def _not_utf8(path: Path, where: str, offset: int, byte: bytes) -> None:
    from charset_normalizer import from_path

    best = from_path(path).best()
    guess = best.encoding.replace("_", "-") if best else None
    what = f"invalid byte 0x{byte.hex()}" if byte else "a truncated character"
    hint = f"it looks like {guess}; declare" if guess else "declare its encoding, e.g."
    raise MillraceError(
        f"{where}: not UTF-8 ({what} at byte {offset}); {hint} data.source.encoding: {guess or 'latin-1'}"
    )


def _delimited(path: Path, delimiter: str, encoding: str, where: str) -> TableRead:
    import pyarrow as pa
    import pyarrow.csv as pacsv

    bad: list[dict[str, Any]] = []

    def quarantine(row) -> str:
        reason = f"{row.actual_columns} fields where the header has {row.expected_columns}"
        bad.append({"file": where, "line": row.number, "reason": reason, "text": row.text[:QUARANTINE_TEXT_CHARS]})
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(use_threads=False, encoding=encoding),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter, newlines_in_values=True, invalid_row_handler=quarantine
            ),
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True),  # "" and NA read as missing, as pandas does
        )
    except pa.ArrowInvalid as exc:
        message = "the file is empty" if "Empty CSV file" in str(exc) else f"cannot parse: {exc}"
        raise MillraceError(f"{where}: {message}") from None
    binary = [field.name for field in table.schema if pa.types.is_binary(field.type)]
    # Each column's Arrow buffers are let go as soon as it is converted: no second copy of the table.
    frame = table.to_pandas(self_destruct=True, split_blocks=True)
    del table
    if binary:  # pyarrow keeps undecodable text as bytes; the encoding check should have caught it
        raise MillraceError(f"{where}: columns {binary} hold bytes that are not {encoding} text")
    return TableRead(frame, encoding, bad)


def _json_lines(path: Path, encoding: str, where: str) -> TableRead:
    try:
        return TableRead(pd.read_json(path, lines=True, encoding=encoding), encoding)
    except ValueError:
        pass  # at least one line is not JSON: read line by line and quarantine those
    records, bad = [], []
    with path.open(encoding=encoding, newline="") as handle:
        for number, line in enumerate(handle, start=1):
            if not line.strip():
                continue
            try:
                record = json.loads(line)
                if not isinstance(record, dict):
                    raise ValueError(f"a JSON {type(record).__name__}, not an object")
            except ValueError as exc:
                reason = f"not a JSON object: {str(exc).splitlines()[0]}"
                bad.append({"file": where, "line": number, "reason": reason, "text": line[:QUARANTINE_TEXT_CHARS]})
                continue
            records.append(record)
    return TableRead(pd.DataFrame.from_records(records), encoding, bad)


def read_table(path: Path | str, fmt: str, *, encoding: str = "auto", sheet: str | int = 0, where: str) -> TableRead:
    """Read `path` as `fmt`; `where` names the source in every error (e.g. the params key and file)."""
    path = Path(path)
    if not path.is_file():
        raise MillraceError(f"{where}: no such file")
    if path.stat().st_size == 0:
        raise MillraceError(f"{where}: the file is empty")
    chosen = encoding_of(path, encoding, where) if fmt in TEXT_FORMATS else None
    try:
        if fmt in ("csv", "tsv"):
            return _delimited(path, "," if fmt == "csv" else "\t", chosen, where)
        if fmt == "jsonl":
            return _json_lines(path, chosen, where)
        if fmt == "json":
            with path.open(encoding=chosen) as handle:
                return TableRead(pd.read_json(io.StringIO(handle.read())), chosen)
        if fmt == "excel":
            return TableRead(pd.read_excel(path, sheet_name=sheet, engine="openpyxl"))
        return TableRead(pd.read_parquet(path))
    except MillraceError:
        raise
    except (ValueError, OSError, KeyError, UnicodeDecodeError) as exc:
        message = " ".join(str(exc).split())[:300]
        raise MillraceError(f"{where}: cannot read as {fmt}: {message}") from None
