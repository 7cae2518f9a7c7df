"""The server's request log: a sample of what was asked and answered, in SQLite, for the drift check.

One row per predicted record: when, the model version, the record's inputs as JSON, the
prediction, the request's latency, and which of its features arrived missing (imputed) or as an unseen
category (`inputs`, JSON; null when none did). Sampling (`monitor.sample_rate`) and caps keep it small:
a record over `monitor.max_record_bytes` is logged without its inputs, and past `monitor.max_rows`
the oldest rows go. Writes happen on a background thread, so a request never waits on the disk;
if the queue backs up, rows are dropped and counted rather than slowing the server.
"""

from __future__ import annotations

import json
import logging
import queue
import random
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

import pandas as pd

DATABASE = "requests.sqlite"
QUEUE_SIZE = 10_000
SCHEMA = """
create table if not exists requests (
    id integer primary key autoincrement,
    at real not null,
    version text not null,
    record text,
    prediction text not null,
    latency_ms real not null,
    inputs text
)
"""


class RequestLog:
    def __init__(self, directory: Path | str, settings, seed: int | None = None) -> None:
        self.path = Path(directory) / DATABASE
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self.settings = settings
        self.dropped = 0
        self._random = random.Random(seed)
        self._queue: queue.Queue = queue.Queue(maxsize=QUEUE_SIZE)
        with sqlite3.connect(self.path) as connection:
            connection.execute("pragma journal_mode=wal")
            connection.execute(SCHEMA)
            columns = {row[1] for row in connection.execute("pragma table_info(requests)")}
            if "inputs" not in columns:  # a log written before inputs were counted
                connection.execute("alter table requests add column inputs text")
        self._writer = threading.Thread(target=self._write, name="request-log", daemon=True)
        self._writer.start()

    def record(
        self,
        version: str,
        records: list[dict[str, Any]],
        predictions: list[dict],
        latency: float,
        issues: dict[int, dict[str, list[str]]] | None = None,
    ) -> None:
        """Queue the sampled records of one request; never blocks. `issues`: per record position, the
        features that were missing or unseen."""
        now = time.time()
        issues = issues or {}
        for position, (record, prediction) in enumerate(zip(records, predictions, strict=True)):
            if self._random.random() >= self.settings.sample_rate:
                continue
            inputs = json.dumps(record, default=str)
            if len(inputs) > self.settings.max_record_bytes:
                inputs = None
            answer = prediction.get("class", prediction.get("value"))
            try:
                noted = json.dumps(issues[position]) if position in issues else None
                self._queue.put_nowait((now, version, inputs, json.dumps(answer), latency * 1000, noted))
            except queue.Full:
                self.dropped += 1

    def flush(self, timeout: float = 5.0) -> None:
        """Wait until everything queued so far is written (tests, shutdown)."""
        done = threading.Event()
        self._queue.put(done)
        done.wait(timeout)

    def _write(self) -> None:
        connection = sqlite3.connect(self.path, check_same_thread=False)
        while True:
            item = self._queue.get()
            rows = [item]
            while not self._queue.empty() and len(rows) < 500:
                rows.append(self._queue.get())
            events = [r for r in rows if isinstance(r, threading.Event)]
            rows = [r for r in rows if not isinstance(r, threading.Event)]
            try:
                if rows:
                    connection.executemany(
                        "insert into requests (at, version, record, prediction, latency_ms, inputs)"
                        " values (?, ?, ?, ?, ?, ?)",
                        rows,
                    )
                    connection.execute(
                        "delete from requests where id <= (select max(id) from requests) - ?",
                        (self.settings.max_rows,),
                    )
                    connection.commit()
            except sqlite3.Error as exc:  # the log is best effort: serving goes on
                logging.getLogger("uvicorn.error").error("request log: %s", exc)
            for event in events:
                event.set()


def read(directory: Path | str, last: int) -> pd.DataFrame:
    """The `last` logged records that kept their inputs, oldest first: inputs as columns, plus
    `_prediction`, `_version`, `_at`, `_latency_ms` (the request's) and `_inputs` (features missing or unseen, or
    None)."""
    path = Path(directory) / DATABASE
    if not path.is_file():
        return pd.DataFrame()
    with sqlite3.connect(path) as connection:
        rows = connection.execute(
            "select at, version, record, prediction, inputs, latency_ms from requests where record is not null"
            " order by id desc limit ?",
            (last,),
        ).fetchall()
    rows.reverse()
    inputs = pd.DataFrame.from_records([json.loads(r[2]) for r in rows])
    return inputs.assign(
        _prediction=[json.loads(r[3]) for r in rows],
        _version=[r[1] for r in rows],
        _at=[r[0] for r in rows],
        _latency_ms=[r[5] for r in rows],
        _inputs=[json.loads(r[4]) if r[4] else None for r in rows],
    )
