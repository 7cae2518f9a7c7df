"""The server's request log samples, caps and reads back what it logged."""

import json
from types import SimpleNamespace

from millrace.serving import request_log


def test_the_request_log_samples_caps_and_reads_back(tmp_path):
    settings = SimpleNamespace(sample_rate=0.5, max_rows=30, max_record_bytes=60)
    log = request_log.RequestLog(tmp_path, settings, seed=1)
    records = [{"mass": float(i), "island": "A"} for i in range(100)]
    log.record("v1", records, [{"class": "x"}] * 100, 0.002)
    log.record("v1", [{"mass": 1.0, "note": "z" * 100}], [{"class": "y"}], 0.002)  # too big: no inputs
    log.flush()
    import sqlite3

    with sqlite3.connect(tmp_path / request_log.DATABASE) as db:
        rows = db.execute("select record, prediction from requests").fetchall()
    assert len(rows) == 30 and rows[-1] == (None, json.dumps("y"))  # capped; the newest kept
    back = request_log.read(tmp_path, last=1000)
    assert len(back) == 29 and set(back["_prediction"]) == {"x"} and back["mass"].is_monotonic_increasing
    assert 35 < back["mass"].iloc[-1] <= 99  # about half of the 100 were sampled
