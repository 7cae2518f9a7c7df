"""Read one table file (CSV, TSV, Parquet, JSON, JSON Lines, Excel) into a frame, losing no row silently.

Text encodings are declared or detected, never guessed: `auto` honours a byte-order mark and
otherwise requires valid UTF-8; a file that is not names the offending byte and shows its first
undecodable line decoded with each likely encoding, so the user sees which one is right and declares it.
CSV dialects are declared (`delimiter`, `decimal`, `thousands`, `quotechar`, `header`) or sniffed: `auto`
finds the delimiter among , ; tab | and a decimal comma, and the read says what it chose; a file that
parses into one column while its lines hold another delimiter is an error naming it. A CSV/TSV record
with the wrong number of fields, or a JSON Lines line that does not parse, is quarantined (file, line,
reason, raw text) instead of being dropped or padded, so `rows_in == rows_kept + rows_quarantined`.
"""

from __future__ import annotations

import codecs
import dataclasses
import io
import json
import re
import tempfile
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


SNIFFED = (",", ";", "\t", "|")
SNIFF_BYTES = 1 << 16
ENCODING_CANDIDATES = ("cp1252", "latin-1", "cp1250", "iso8859-15", "mac-roman")


@dataclass(frozen=True)
class Dialect:
    """How a CSV/TSV file is written (params.yaml's data.source keys of the same names)."""

    delimiter: str = "auto"
    decimal: str = "auto"
    thousands: str | None = None
    quotechar: str = '"'
    header: bool = True
    comment: str | None = None


@dataclass
class TableRead:
    frame: pd.DataFrame
    encoding: str | None = None
    quarantined: list[dict[str, Any]] = field(default_factory=list)  # {"file", "line", "reason", "text"}
    dialect: dict[str, Any] | None = None  # what a CSV/TSV was read with, sniffed or declared


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
    shown = _line_decoded(path, offset, guess)
    raise MillraceError(
        f"{where}: not UTF-8 ({what} at byte {offset}). Its line decoded with each likely encoding — declare the "
        f"one that reads right as data.source.encoding:\n{shown}"
    )


def _line_decoded(path: Path, offset: int, guess: str | None) -> str:
    """The line holding byte `offset`, as each candidate encoding reads it (charset-normalizer's guess first)."""
    with path.open("rb") as handle:
        handle.seek(max(0, offset - 2000))
        before = handle.read(min(offset, 2000))
        after = handle.read(2000)
    line = before[before.rfind(b"\n") + 1 :] + after.split(b"\n", 1)[0]
    candidates = list(dict.fromkeys([*([guess] if guess else []), *ENCODING_CANDIDATES]))
    shown = []
    for name in candidates:
        try:
            text = line.decode(name).rstrip("\r")[:200]
        except (UnicodeDecodeError, LookupError):
            continue
        shown.append(f"  {name:>11}: {text}")
    return "\n".join(shown)


def sniff(path: Path, encoding: str, dialect: Dialect, default: str) -> tuple[str, str]:
    """(delimiter, decimal mark): the declared ones, or for `auto` what the first 64 KB of the file show."""
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        sample = handle.read(SNIFF_BYTES)
    lines = sample.splitlines()
    if len(sample) == SNIFF_BYTES and len(lines) > 1:
        lines = lines[:-1]  # cut off mid-line
    lines = [line for line in lines[:200] if line.strip()]
    delimiter = dialect.delimiter
    if delimiter == "auto":
        delimiter = _sniffed_delimiter(lines, default)
    decimal = dialect.decimal
    if decimal == "auto":
        cells = [cell.strip().strip(dialect.quotechar) for line in lines[1:] for cell in line.split(delimiter)]
        commas = sum(bool(DECIMAL_COMMA.match(c)) for c in cells)
        points = sum(bool(DECIMAL_POINT.match(c)) for c in cells)
        decimal = "," if delimiter != "," and commas > points else "."
    return delimiter, decimal


def _sniffed_delimiter(lines: list[str], default: str) -> str:
    """The candidate that splits every sampled line into the same number (> 1) of fields; the most fields wins.
    Quoted fields are respected (the csv module splits them)."""
    import csv

    best, best_fields = default, 1
    for candidate in SNIFFED:
        counts = {len(row) for row in csv.reader(lines[:50], delimiter=candidate)}
        if len(counts) == 1 and (fields := counts.pop()) > best_fields:
            best, best_fields = candidate, fields
    return best


def _one_column_misparse(frame: pd.DataFrame, path: Path, encoding: str, delimiter: str, where: str) -> None:
    """A file read into one column whose lines hold another delimiter was read with the wrong one."""
    if frame.shape[1] != 1:
        return
    with path.open(encoding=encoding, errors="replace", newline="") as handle:
        lines = [line for line in handle.read(SNIFF_BYTES).splitlines()[:50] if line.strip()]
    for candidate in SNIFFED:
        if candidate != delimiter and lines and all(candidate in line for line in lines):
            shown = "\\t" if candidate == "\t" else candidate
            raise MillraceError(
                f"{where}: read into one column with delimiter {delimiter!r}, but every line holds {candidate!r}: "
                f"set data.source.delimiter: {shown!r} (or auto)"
            )


DECIMAL_COMMA = re.compile(r"^[-+]?\d{1,3}(\.\d{3})*,\d+$|^[-+]?\d+,\d+$")
DECIMAL_POINT = re.compile(r"^[-+]?\d+\.\d+$")


def _delimited(path: Path, default: str, encoding: str, dialect: Dialect, where: str) -> TableRead:
    if dialect.comment:
        return _without_comments(path, default, encoding, dialect, where)
    import pyarrow as pa
    import pyarrow.csv as pacsv

    delimiter, decimal = sniff(path, encoding, dialect, default)
    bad: list[dict[str, Any]] = []

    def quarantine(row) -> str:
        reason = f"{row.actual_columns} fields where the header has {row.expected_columns}"
        bad.append({"file": where, "line": row.number, "reason": reason, "text": row.text[:QUARANTINE_TEXT_CHARS]})
        return "skip"

    try:
        table = pacsv.read_csv(
            path,
            read_options=pacsv.ReadOptions(
                use_threads=False, encoding=encoding, autogenerate_column_names=not dialect.header
            ),
            parse_options=pacsv.ParseOptions(
                delimiter=delimiter,
                quote_char=dialect.quotechar,
                newlines_in_values=True,
                invalid_row_handler=quarantine,
            ),
            # "" and NA read as missing, as pandas does; numbers with thousands separators are read as text first
            convert_options=pacsv.ConvertOptions(strings_can_be_null=True, decimal_point=decimal),
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
    _one_column_misparse(frame, path, encoding, delimiter, where)
    if not dialect.header:
        frame.columns = [f"column_{i + 1}" for i in range(frame.shape[1])]
    if dialect.thousands:
        frame = _without_thousands(frame, dialect.thousands, decimal)
    used = {
        "delimiter": delimiter,
        "decimal": decimal,
        "sniffed": dialect.delimiter == "auto" or dialect.decimal == "auto",
    }
    return TableRead(frame, encoding, bad, used)


def _without_comments(path: Path, default: str, encoding: str, dialect: Dialect, where: str) -> TableRead:
    """Read the file with its comment lines (those starting with `dialect.comment`, spaces aside) left out; the
    quarantine keeps the file's own line numbers. pyarrow's reader has no such option."""
    from array import array

    kept, skipped = array("Q"), 0  # the file's line number of each line kept
    with tempfile.TemporaryDirectory(prefix="millrace-csv-") as folder:
        filtered = Path(folder) / path.name
        with (
            path.open(encoding=encoding, newline="") as source,
            filtered.open("w", encoding=encoding, newline="") as out,
        ):
            for number, line in enumerate(source, start=1):
                if line.lstrip().startswith(dialect.comment):
                    skipped += 1
                else:
                    out.write(line)
                    kept.append(number)
        if not kept:
            raise MillraceError(f"{where}: every line starts with the comment character {dialect.comment!r}")
        read = _delimited(filtered, default, encoding, dataclasses.replace(dialect, comment=None), where)
    for row in read.quarantined:
        row["line"] = kept[row["line"] - 1]
    read.dialect["comment_lines"] = skipped
    return read


def _without_thousands(frame: pd.DataFrame, thousands: str, decimal: str) -> pd.DataFrame:
    """Text columns that are numbers once the thousands separator is taken out become numbers."""
    for column in frame.columns:
        values = frame[column]
        if pd.api.types.is_numeric_dtype(values) or values.dropna().empty:
            continue
        text = values.astype("str").str.replace(thousands, "", regex=False)
        if decimal != ".":
            text = text.str.replace(decimal, ".", regex=False)
        numbers = pd.to_numeric(text.where(values.notna()), errors="coerce")
        if numbers.notna().sum() == values.notna().sum():
            frame[column] = numbers
    return frame


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


def read_table(
    path: Path | str,
    fmt: str,
    *,
    encoding: str = "auto",
    sheet: str | int = 0,
    where: str,
    dialect: Dialect | None = None,
) -> TableRead:
    """Read `path` as `fmt`; `where` names the source in every error (e.g. the params key and file)."""
    path = Path(path)
    if not path.is_file():
        raise MillraceError(f"{where}: no such file")
    if path.stat().st_size == 0:
        raise MillraceError(f"{where}: the file is empty")
    chosen = encoding_of(path, encoding, where) if fmt in TEXT_FORMATS else None
    try:
        if fmt in ("csv", "tsv"):
            return _delimited(path, "," if fmt == "csv" else "\t", chosen, dialect or Dialect(), where)
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
