"""predict: batch prediction with the deployed bundle over a file, streamed in chunks.

`python -m millrace.serving.batch_predict INPUT OUTPUT [--chunk-rows N]` reads a CSV, Parquet or JSON Lines file
a chunk at a time, predicts with the bundle `millrace serve` serves (the active release of the model
params.yaml names, else `<paths.deploy>/`; it says which, and why when they differ; ONNX Runtime, the same
code as the server) and writes the input columns plus `prediction` (and `probability_<class>` for
classification) to OUTPUT (.parquet or .csv). Memory stays bounded by the chunk size. A record
the model cannot take stops the run with its row number and the reason, and nothing is written:
the output appears only complete. Also `millrace predict`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from millrace.config.params import load_params
from millrace.errors import MillraceError
from millrace.files import TABLE_FORMATS, atomic_path, table_format
from millrace.inputs.feature_error import FeatureError
from millrace.release import served
from millrace.serving.bundle import Bundle


def _format(path: Path, role: str, allowed: tuple[str, ...]) -> str:
    fmt = table_format(path)
    if fmt not in allowed:
        raise MillraceError(
            f"{role} {str(path)!r}: use one of {', '.join(s for s, f in TABLE_FORMATS.items() if f in allowed)}"
        )
    return fmt


def chunks(path: Path, rows: int) -> Iterator[pd.DataFrame]:
    """The input a chunk at a time, numbered from row 0 of the file."""
    fmt = _format(path, "input", ("csv", "parquet", "jsonl"))
    if not path.is_file():
        raise MillraceError(f"input {str(path)!r}: no such file")
    if fmt == "parquet":
        start = 0
        for batch in pq.ParquetFile(path).iter_batches(batch_size=rows):
            frame = batch.to_pandas()
            frame.index = pd.RangeIndex(start, start + len(frame))
            start += len(frame)
            yield frame
        return
    reader = pd.read_csv(path, chunksize=rows) if fmt == "csv" else pd.read_json(path, lines=True, chunksize=rows)
    with reader:
        yield from reader


def run(bundle: Bundle, source: Path, target: Path, chunk_rows: int) -> int:
    """Predict every row of `source` into `target`; return the number of rows written."""
    fmt = _format(target, "output", ("csv", "parquet"))
    written = 0
    with atomic_path(target) as tmp:
        writer = None
        try:
            for frame in chunks(source, chunk_rows):
                try:
                    predicted = bundle.predict_frame(frame)
                except FeatureError as exc:
                    message = str(exc)
                    if exc.row is not None:  # the encoder counts within the chunk; the user, within the file
                        message = message.replace(f"(row {exc.row})", f"(row {int(frame.index[0]) + exc.row})")
                    raise MillraceError(f"{source}: {message}; nothing was written") from None
                table = pa.Table.from_pandas(pd.concat([frame, predicted], axis=1), preserve_index=False)
                if fmt == "parquet":
                    writer = writer or pq.ParquetWriter(tmp, table.schema)
                    writer.write_table(table)
                else:
                    table.to_pandas().to_csv(tmp, mode="a", header=written == 0, index=False)
                written += len(frame)
        finally:
            if writer is not None:
                writer.close()
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="millrace predict", description=__doc__.split("\n\n")[0])
    parser.add_argument("input", type=Path, help="CSV, Parquet or JSON Lines file of records")
    parser.add_argument("output", type=Path, help=".parquet or .csv file to write")
    parser.add_argument("--chunk-rows", type=int, default=10_000, help="rows predicted at a time")
    args = parser.parse_args(argv)
    if args.chunk_rows < 1:
        raise MillraceError("--chunk-rows must be at least 1")
    params = load_params()
    used = served.resolve(params)
    print(f"predicting with {used.describe()}", file=sys.stderr)
    rows = run(Bundle(used.directory), args.input, args.output, args.chunk_rows)
    print(f"predicted {rows} rows into {args.output}")


if __name__ == "__main__":
    from millrace.entry import run_stage

    run_stage(main)
