"""The fitted preprocessing of a table model, applied: raw records → the model's float matrix.

This one implementation serves training, evaluation, the server, batch prediction and the edge loader
(deploy copies this file into the bundle's `edge/` folder), so it imports nothing but the standard
library and numpy. Its parameters were fitted on the training split (`millrace/inputs/tabular.py`) and
travel as `preprocess.json`:

- every column: the rules a record must meet, as the clean stage would have quarantined it otherwise
  (`clean.filters`, a missing value where `clean.missing` says drop): a record that breaks one is refused,
  naming the rule's params key;
- numeric: missing values imputed, outliers clipped to the training split's bounds, standardised;
- categorical: text repaired as the clean stage repairs it, missing values imputed, one-hot over the
  training vocabulary; a value outside it is counted as unseen and encodes as the "other" bucket where the
  vocabulary was capped (high cardinality), as all zeros otherwise;
- datetime: year, month, day, weekday and hour, each imputed and standardised;
- text: TF-IDF over a capped training vocabulary (scikit-learn's tokens and smoothing, L2-normalised).

Missing and unseen values are counted per column (`Counts`), so the server can report them to drift
monitoring instead of refusing the record.
"""

import math
import re
import unicodedata

import numpy as np

TRUE = frozenset({"true", "t", "yes", "y", "1"})
FALSE = frozenset({"false", "f", "no", "n", "0"})
# Unicode's control characters (category Cc: C0, DEL, C1) other than tab and newline; NUL and CR included.
CONTROL = dict.fromkeys(c for c in [*range(0x20), *range(0x7F, 0xA0)] if chr(c) not in "\t\n")
TOKEN = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's default token pattern
REPAIRS_REMEMBERED = 100_000


class RecordError(ValueError):
    """A record the model cannot take: a value of the wrong type, or one a cleaning rule refuses."""

    def __init__(self, message, row=None):
        super().__init__(message)
        self.row = row


def _mojibake(text):
    import ftfy  # the clean stage's only: a model never lists this operation (see quality/cleaning.py)

    return ftfy.fix_encoding(text)


TEXT_OPERATIONS = {
    "mojibake_fixed": _mojibake,
    "unicode_NFC": lambda s: unicodedata.normalize("NFC", s),
    "unicode_NFKC": lambda s: unicodedata.normalize("NFKC", s),
    "control_characters_removed": lambda s: s.translate(CONTROL),
    "whitespace_collapsed": lambda s: " ".join(s.split()),
    "stripped": str.strip,
    "lowercased": str.lower,
}


def repaired(text, operations):
    """A string after the clean stage's text operations, in their order."""
    for name in operations:
        text = TEXT_OPERATIONS[name](text)
    return text


def as_text(value):
    """A category's text: True → "True", 3.0 → "3" (a whole number reads the same from JSON and Parquet)."""
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def is_missing(value):
    return value is None or (isinstance(value, float) and math.isnan(value)) or type(value).__name__ in MISSING_TYPES


MISSING_TYPES = frozenset({"NAType", "NaTType"})


class Factorized:
    """A column as codes into its distinct values (-1: missing): each distinct value is worked on once."""

    def __init__(self, codes, distinct):
        self.codes = np.asarray(codes, dtype=np.int64)
        self.distinct = list(distinct)

    @classmethod
    def of(cls, values):
        index, codes = {}, np.empty(len(values), dtype=np.int64)
        for row, value in enumerate(values):
            codes[row] = -1 if is_missing(value) else index.setdefault(as_text(value), len(index))
        return cls(codes, list(index))


def _show(value):
    return repr(value) if isinstance(value, str) else str(value)


def as_numbers(values, column):
    """float64 values (NaN where missing) of a column as sent: numbers, or text that reads as one."""
    if isinstance(values, np.ndarray) and values.dtype.kind in "fiub":
        return values.astype(np.float64)
    out = np.empty(len(values), dtype=np.float64)
    for row, value in enumerate(values):
        if is_missing(value):
            out[row] = np.nan
            continue
        try:
            if isinstance(value, (bool, np.bool_)):
                raise TypeError
            out[row] = float(value)
        except (TypeError, ValueError):
            raise RecordError(f"feature {column!r} needs a number, got {_show(value)} (row {row})", row) from None
        if math.isnan(out[row]):
            out[row] = np.nan
    return out


def as_datetimes(values, column):
    """datetime64[s] values (NaT where missing) of dates as sent: ISO 8601 text, or datetime64 already."""
    if isinstance(values, np.ndarray) and values.dtype.kind == "M":
        return values.astype("datetime64[s]")
    out = np.empty(len(values), dtype="datetime64[s]")
    for row, value in enumerate(values):
        if is_missing(value):
            out[row] = np.datetime64("NaT")
            continue
        try:
            text = str(value).strip().replace(" ", "T", 1)
            out[row] = np.datetime64(text[:-1] if text.endswith("Z") else text, "s")
        except ValueError:
            raise RecordError(
                f"feature {column!r} needs a date (ISO 8601), got {_show(value)} (row {row})", row
            ) from None
    return out


def date_parts(moments):
    """Each part of every moment as float64 (NaN where the moment is missing)."""
    missing = np.isnat(moments)
    seconds = np.where(missing, np.datetime64(0, "s"), moments)
    days = seconds.astype("datetime64[D]")
    months = days.astype("datetime64[M]")
    parts = {
        "year": months.astype("datetime64[Y]").astype(np.int64) + 1970,
        "month": months.astype(np.int64) % 12 + 1,
        "day": (days - months).astype(np.int64) + 1,
        "weekday": (days.astype(np.int64) + 3) % 7,  # Monday 0: 1970-01-01 was a Thursday
        "hour": (seconds - days).astype("timedelta64[h]").astype(np.int64),
    }
    return {name: np.where(missing, np.nan, values.astype(np.float64)) for name, values in parts.items()}


class Counts:
    """Per column, how many values were missing (and imputed) and how many categories were unseen; and per
    row that had any, which columns (`rows`: row → {"missing": [...], "unseen": [...]})."""

    def __init__(self):
        self.missing = {}
        self.unseen = {}
        self.rows = {}

    def add(self, kind, column, mask):
        if not mask.any():  # the usual case: one cheap test instead of an index (a request pays per column)
            return
        rows = np.flatnonzero(mask)
        if len(rows):
            counts = getattr(self, kind)
            counts[column] = counts.get(column, 0) + len(rows)
            for row in rows.tolist():
                self.rows.setdefault(row, {}).setdefault(kind, []).append(column)


class TableTransform:
    """The fitted preprocessing (`preprocess.json` of a table model), applied to columns of raw values."""

    def __init__(self, spec):
        self.spec = spec
        self.columns = spec["columns"]
        self.operations = spec.get("text_operations", [])
        self.rules = spec.get("rules", [])
        self.index = {
            c["name"]: {v: i for i, v in enumerate(c["vocabulary"])}
            for c in self.columns
            if c["role"] in ("categorical", "high_cardinality", "text")
        }
        self.width = sum(column_width(c) for c in self.columns)
        self._repaired = {}  # a served category repeats: its repair (a few µs of Unicode work) is remembered

    def repair(self, text):
        found = self._repaired.get(text)
        if found is None:
            if len(self._repaired) >= REPAIRS_REMEMBERED:
                self._repaired.clear()
            found = self._repaired[text] = repaired(text, self.operations)
        return found

    @property
    def names(self):
        return [c["name"] for c in self.columns]

    def transform_records(self, records):
        """`transform` for records as a client sends them (dicts): a feature no record has is a missing
        feature; one that some records lack is missing in those (imputed and counted)."""
        absent = [name for name in self.names if not any(name in record for record in records)]
        if absent:
            raise RecordError(f"missing features: {absent}")
        columns = {}
        for name in dict.fromkeys([*self.names, *(rule["column"] for rule in self.rules)]):
            if name in self.names or any(name in record for record in records):
                columns[name] = np.empty(len(records), dtype=object)
                columns[name][:] = [record.get(name) for record in records]
        return self.transform(columns, len(records))

    def transform(self, columns, rows):
        """(the float32 matrix, the Counts) for `columns`: name → raw values (a list or numpy array, or a
        Factorized for text); every feature must be there. A value the model cannot take is a RecordError."""
        absent = [name for name in self.names if name not in columns]
        if absent:
            raise RecordError(f"missing features: {absent}")
        counts = Counts()
        self.check_rules(columns, rows)
        out = np.zeros((rows, self.width), dtype=np.float32)
        at = 0
        for column in self.columns:
            width = column_width(column)
            out[:, at : at + width] = ENCODERS[column["role"]](self, column, columns[column["name"]], rows, counts)
            at += width
        return out, counts

    def check_rules(self, columns, rows):
        for rule in self.rules:
            values = columns.get(rule["column"])
            if values is None:  # a column the model does not read and the client did not send
                continue
            if "allowed" in rule:
                self._check_allowed(rule, values)
            elif "required" in rule:
                missing = np.flatnonzero(_missing_mask(values))
                if len(missing):
                    row = int(missing[0])
                    raise RecordError(f"{rule['key']}: {rule['column']!r} must not be missing (row {row})", row)
            else:
                numbers = as_numbers(values, rule["column"])
                low = -np.inf if rule.get("min") is None else rule["min"]
                high = np.inf if rule.get("max") is None else rule["max"]
                outside = np.flatnonzero(~np.isnan(numbers) & ((numbers < low) | (numbers > high)))
                if len(outside):
                    row = int(outside[0])
                    raise RecordError(
                        f"{rule['key']}: {rule['column']}={numbers[row]:g} is outside [{low:g}, {high:g}] (row {row})",
                        row,
                    )

    def _check_allowed(self, rule, values):
        allowed = {as_text(v) for v in rule["allowed"]}
        factorized = values if isinstance(values, Factorized) else Factorized.of(values)
        bad = [i for i, v in enumerate(factorized.distinct) if self.repair(v) not in allowed]
        if bad:
            row = int(np.flatnonzero(np.isin(factorized.codes, bad))[0])
            value = factorized.distinct[factorized.codes[row]]
            raise RecordError(f"{rule['key']}: {rule['column']}={value!r} is not an allowed value (row {row})", row)

    def numeric(self, column, values, rows, counts):
        numbers = as_numbers(values, column["name"])
        infinite = np.isinf(numbers)
        if infinite.any():
            row = int(np.flatnonzero(infinite)[0])
            raise RecordError(f"feature {column['name']!r} needs a number, got {numbers[row]} (row {row})", row)
        return standardised(numbers, column, counts, column["name"])[:, None]

    def categorical(self, column, values, rows, counts):
        factorized = values if isinstance(values, Factorized) else Factorized.of(values)
        index = self.index[column["name"]]
        vocabulary = column["vocabulary"]
        if column.get("coerce") == "bool":
            read = [_word(v) for v in factorized.distinct]
        else:
            read = [self.repair(v) for v in factorized.distinct]
        positions = np.array([index.get(v, -1) for v in read] + [-1], dtype=np.int64)  # the last: missing
        codes = np.where(factorized.codes < 0, len(read), factorized.codes)
        found = positions[codes]
        missing = factorized.codes < 0
        counts.add("missing", column["name"], missing)
        fill = column.get("fill")
        if fill is not None:
            found[missing] = index.get(fill, -1)
        unseen = (found < 0) & ~missing
        counts.add("unseen", column["name"], unseen)
        out = np.zeros((rows, column_width(column)), dtype=np.float32)
        other = len(vocabulary) if column.get("other") else -1
        found = np.where(found < 0, other, found)
        hit = found >= 0
        out[np.flatnonzero(hit), found[hit]] = 1.0
        return out

    def datetime(self, column, values, rows, counts):
        parts = date_parts(as_datetimes(values, column["name"]))
        counts.add("missing", column["name"], np.isnan(parts["year"]))
        return np.stack([standardised(parts[p], stats, None, None) for p, stats in column["parts"].items()], axis=1)

    def text(self, column, values, rows, counts):
        index = self.index[column["name"]]
        idf = np.asarray(column["idf"], dtype=np.float64)
        factorized = values if isinstance(values, Factorized) else Factorized.of(values)
        # Each distinct text once: repaired as the clean stage repairs it, then its terms counted.
        terms = np.zeros((len(factorized.distinct) + 1, len(idf)), dtype=np.float64)  # the last row: missing
        for code, text in enumerate(factorized.distinct):
            for token in TOKEN.findall(repaired(text, self.operations).lower()):
                position = index.get(token)
                if position is not None:
                    terms[code, position] += 1.0
        missing = factorized.codes < 0
        counts.add("missing", column["name"], missing)
        out = terms[np.where(missing, len(factorized.distinct), factorized.codes)] * idf
        norms = np.sqrt((out**2).sum(axis=1, keepdims=True))
        return out / np.where(norms > 0, norms, 1.0)


def _word(value):
    word = value.strip().lower()
    return "True" if word in TRUE else "False" if word in FALSE else value


def _missing_mask(values):
    if isinstance(values, Factorized):
        return values.codes < 0
    if isinstance(values, np.ndarray) and values.dtype.kind == "f":
        return np.isnan(values)
    if isinstance(values, np.ndarray) and values.dtype.kind == "M":
        return np.isnat(values)
    return np.array([is_missing(v) for v in values], dtype=bool)


def standardised(numbers, stats, counts, name):
    """Missing → the fill, clipped to the bounds, then (x - mean) / std."""
    missing = np.isnan(numbers)
    if missing.any():
        if counts is not None:
            counts.add("missing", name, missing)
        numbers = np.where(missing, stats["fill"], numbers)
    if stats.get("clip"):
        numbers = np.clip(numbers, *stats["clip"])
    return (numbers - stats["mean"]) / stats["std"]


def column_width(column):
    role = column["role"]
    if role == "numeric":
        return 1
    if role == "datetime":
        return len(column["parts"])
    if role == "text":
        return len(column["idf"])
    return len(column["vocabulary"]) + (1 if column.get("other") else 0)


ENCODERS = {
    "numeric": TableTransform.numeric,
    "categorical": TableTransform.categorical,
    "high_cardinality": TableTransform.categorical,
    "datetime": TableTransform.datetime,
    "text": TableTransform.text,
}
